package remote

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// localShell runs commands with /bin/sh in a directory, standing in for a node's login shell.
type localShell struct {
	dir    string
	cmds   []string
	dryRun bool // record commands only, with no output
}

func (l *localShell) Run(ctx context.Context, cmd string) (string, error) {
	return l.RunWithInput(ctx, cmd, nil)
}

func (l *localShell) RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error) {
	l.cmds = append(l.cmds, cmd)
	if l.dryRun {
		return "", nil
	}
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir, c.Stdin = l.dir, in
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), err
}

func TestWriteFileWritesOnceAndOnlyWhenContentChanges(t *testing.T) {
	sh := &localShell{dir: t.TempDir()}
	ctx := context.Background()
	for i, tc := range []struct {
		content string
		wrote   bool
	}{{"apiVersion: v1\n", true}, {"apiVersion: v1\n", false}, {"apiVersion: v2\n", true}} {
		wrote, err := WriteFile(ctx, sh, File{Path: ".kube/config", Content: strings.NewReader(tc.content), Mode: "0600"})
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

// fakeSudo puts a sudo on PATH that records the command it was given and runs it: the
// tests never touch the host. It returns the record's path.
func fakeSudo(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(bin, "sudo.log")
	// sudo -n CMD records CMD's name; sudo -n -u USER CMD records "as:USER CMD" and runs it as
	// USER (runuser, when this test runs as root and USER is another account).
	shim := "#!/bin/sh\n[ \"$1\" = -n ] || { echo 'sudo without -n' >&2; exit 1; }\nshift\n" +
		"if [ \"$1\" = -u ]; then u=$2; shift 2; echo \"as:$u $1\" >> " + log + "; [ \"$u\" = \"$(id -un)\" ] && exec \"$@\"; exec runuser -u \"$u\" -- \"$@\"; fi\n" +
		"echo \"$1\" >> " + log + "\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return log
}

func sudoUsed(t *testing.T, log string) string {
	used, _ := os.ReadFile(log)
	os.Remove(log)
	return strings.Join(strings.Fields(string(used)), " ")
}

func TestWriteFileAsRootGoesThroughSudo(t *testing.T) {
	log := fakeSudo(t)
	sh := &localShell{dir: t.TempDir()}
	dest := filepath.Join(sh.dir, "usr/local/bin/kind")
	wrote, err := WriteFile(context.Background(), sh, File{Path: dest, Content: strings.NewReader("#!/bin/sh\n"), Mode: "0755", Owner: AsRoot})
	if err != nil || !wrote {
		t.Fatalf("wrote=%v err=%v", wrote, err)
	}
	info, err := os.Stat(dest)
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v %v", info, err)
	}
	if got := sudoUsed(t, log); got != "sha256sum mkdir tee chmod mv" {
		t.Errorf("through sudo: %v", got)
	}
	// Logged in as root (an existing machine's admin may be), nothing goes through sudo,
	// which such a machine may not have yet.
	wrote, err = WriteFile(context.Background(), sh, File{Path: dest, Content: strings.NewReader("#!/bin/sh\nexit 0\n"), Mode: "0755", Owner: AsRoot, LoginIsRoot: true})
	if err != nil || !wrote {
		t.Fatalf("as root: wrote=%v err=%v", wrote, err)
	}
	if got := sudoUsed(t, log); got != "" {
		t.Errorf("as root, through sudo: %v", got)
	}
}

// A file for an account is written by that account: the file and its directory are its,
// with their modes, and a link the account put at the temporary name is replaced, never
// followed by root. A directory of root's that exists keeps its mode.
func TestWriteFileForAnAccountWritesAsThatAccount(t *testing.T) {
	log := fakeSudo(t)
	// The account: this test's own, or when that is root (whose files WriteFile treats
	// apart) another one, which the file must then really belong to.
	owner, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if owner.Username == AsRoot {
		if owner, err = user.Lookup("nobody"); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	base := t.TempDir()
	home, secret := filepath.Join(base, "home"), filepath.Join(base, "secret")
	dest := filepath.Join(home, ".ssh", "authorized_keys")
	for _, err := range []error{
		// The account reaches its home through the test's directories.
		os.Chmod(filepath.Dir(base), 0o755), os.Chmod(base, 0o755), os.Mkdir(home, 0o755), os.Chown(home, uid, gid), os.Mkdir(filepath.Dir(dest), 0o755),
		os.Chown(filepath.Dir(dest), uid, gid), os.WriteFile(secret, []byte("root's own\n"), 0o644),
		os.Symlink(secret, dest+".new"), os.Lchown(dest+".new", uid, gid),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f := File{Path: dest, Content: strings.NewReader("ssh-ed25519 AAAA\n"), Mode: "0600", Owner: owner.Username, DirMode: "0700"}
	if wrote, err := WriteFile(context.Background(), &localShell{}, f); err != nil || !wrote {
		t.Fatalf("wrote=%v err=%v", wrote, err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "ssh-ed25519 AAAA\n" {
		t.Errorf("%s: %q %v", dest, b, err)
	}
	if b, _ := os.ReadFile(secret); string(b) != "root's own\n" {
		t.Errorf("the link at the temporary name was followed: %s now holds %q", secret, b)
	}
	for p, want := range map[string]os.FileMode{dest: 0o600, filepath.Dir(dest): 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(info.Sys().(*syscall.Stat_t).Uid); info.Mode().Perm() != want || got != owner.Uid {
			t.Errorf("%s: mode %v, owner %s; want %v, %s (%s)", p, info.Mode().Perm(), got, want, owner.Uid, owner.Username)
		}
	}
	if got, want := sudoUsed(t, log), "as:"+owner.Username+" sh as:"+owner.Username+" sh"; got != want {
		t.Errorf("through sudo: %q, want %q (the check and the write, each as the account)", got, want)
	}
	// Logged in as root: runuser instead of sudo.
	if os.Geteuid() != 0 {
		t.Log("NOT RUN (not a pass): a root login's write as another account needs this test to run as root")
	} else {
		f = File{Path: dest, Content: strings.NewReader("ssh-ed25519 BBBB\n"), Mode: "0600", Owner: owner.Username, DirMode: "0700", LoginIsRoot: true}
		if wrote, err := WriteFile(context.Background(), &localShell{}, f); err != nil || !wrote {
			t.Fatalf("as root: wrote=%v err=%v", wrote, err)
		}
		info, err := os.Stat(dest)
		if err != nil || fmt.Sprint(info.Sys().(*syscall.Stat_t).Uid) != owner.Uid {
			t.Errorf("as root: %s is not %s's: %v", dest, owner.Username, err)
		}
		if got := sudoUsed(t, log); got != "" {
			t.Errorf("as root, through sudo: %v", got)
		}
	}
	if err := os.Chmod(base, 0o751); err != nil {
		t.Fatal(err)
	}
	f = File{Path: filepath.Join(base, "notes"), Content: strings.NewReader("x\n"), Mode: "0644", Owner: AsRoot, DirMode: "0755"}
	if _, err := WriteFile(context.Background(), &localShell{}, f); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(base); err != nil || info.Mode().Perm() != 0o751 {
		t.Errorf("an existing directory of root's changed mode: %v %v", info.Mode().Perm(), err)
	}
}

// A sudoers file is checked with visudo before it goes in; a broken one never does.
func TestWriteFileChecksSudoersFiles(t *testing.T) {
	sh := &localShell{}
	f := File{Path: "/etc/sudoers.d/labfleet-test", Content: strings.NewReader("x\n"), Mode: "0440", Owner: AsRoot}
	// The command is not run (this is the host's /etc): only its shape is checked.
	sh.dryRun = true
	if _, err := WriteFile(context.Background(), sh, f); err != nil {
		t.Fatal(err)
	}
	write := sh.cmds[len(sh.cmds)-1]
	check, install := strings.Index(write, "visudo -c -q -f /etc/sudoers.d/labfleet-test.new"), strings.Index(write, "mv /etc/sudoers.d/labfleet-test.new")
	if check < 0 || install < check || !strings.Contains(write, " && ") {
		t.Errorf("no visudo check before the file goes in: %s", write)
	}
}

// A path with a space or a quote reaches the node as one word.
func TestWriteFileQuotesItsPaths(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "it's a dir", "the file")
	node := &localShell{}
	if wrote, err := WriteFile(context.Background(), node, File{Path: dest, Content: strings.NewReader("x\n"), Mode: "0600"}); err != nil || !wrote {
		t.Fatalf("wrote %v, err %v", wrote, err)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "x\n" {
		t.Errorf("%q %v", b, err)
	}
	if wrote, err := WriteFile(context.Background(), node, File{Path: dest, Content: strings.NewReader("x\n"), Mode: "0600"}); err != nil || wrote {
		t.Errorf("the same content again: wrote %v, err %v", wrote, err)
	}
}
