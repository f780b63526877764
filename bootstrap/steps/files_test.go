package steps

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// localShell runs commands with /bin/sh in a directory, standing in for a node's login shell.
type localShell struct {
	dir  string
	cmds []string
}

func (l *localShell) Run(ctx context.Context, cmd string) (string, error) {
	return l.RunWithInput(ctx, cmd, nil)
}

func (l *localShell) RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error) {
	l.cmds = append(l.cmds, cmd)
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir, c.Stdin = l.dir, in
	out, err := c.Output()
	return string(out), err
}

func TestWriteFileWritesOnceAndOnlyWhenContentChanges(t *testing.T) {
	sh := &localShell{dir: t.TempDir()}
	ctx := context.Background()
	for i, tc := range []struct {
		content string
		wrote   bool
	}{{"apiVersion: v1\n", true}, {"apiVersion: v1\n", false}, {"apiVersion: v2\n", true}} {
		wrote, err := WriteFile(ctx, sh, ".kube/config", strings.NewReader(tc.content), "0600", AsLoginUser)
		if err != nil || wrote != tc.wrote {
			t.Fatalf("write %d: wrote=%v err=%v, want wrote=%v", i+1, wrote, err, tc.wrote)
		}
		got, err := os.ReadFile(filepath.Join(sh.dir, ".kube/config"))
		if err != nil || string(got) != tc.content {
			t.Fatalf("write %d: file %q %v", i+1, got, err)
		}
	}
	info, err := os.Stat(filepath.Join(sh.dir, ".kube/config"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", info.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(sh.dir, ".kube/config.new")); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
}

func TestWriteFileAsRootGoesThroughSudo(t *testing.T) {
	// A sudo that records its use and runs the command: the test never touches the host.
	bin := t.TempDir()
	log := filepath.Join(bin, "sudo.log")
	shim := "#!/bin/sh\necho \"$1\" >> " + log + "\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	sh := &localShell{dir: t.TempDir()}
	dest := filepath.Join(sh.dir, "usr/local/bin/kind")
	wrote, err := WriteFile(context.Background(), sh, dest, strings.NewReader("#!/bin/sh\n"), "0755", AsRoot)
	if err != nil || !wrote {
		t.Fatalf("wrote=%v err=%v", wrote, err)
	}
	info, err := os.Stat(dest)
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v %v", info, err)
	}
	used, _ := os.ReadFile(log)
	if got := strings.Fields(string(used)); strings.Join(got, " ") != "sha256sum install tee chmod mv" {
		t.Errorf("through sudo: %v", got)
	}
}

// A path with a space or a quote reaches the node as one word.
func TestWriteFileQuotesItsPaths(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "it's a dir", "the file")
	node := &localShell{}
	if wrote, err := WriteFile(context.Background(), node, dest, strings.NewReader("x\n"), "0600", AsLoginUser); err != nil || !wrote {
		t.Fatalf("wrote %v, err %v", wrote, err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "x\n" {
		t.Errorf("%q %v", b, err)
	}
	if wrote, err := WriteFile(context.Background(), node, dest, strings.NewReader("x\n"), "0600", AsLoginUser); err != nil || wrote {
		t.Errorf("the same content again: wrote %v, err %v", wrote, err)
	}
}
