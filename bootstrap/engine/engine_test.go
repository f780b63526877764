package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/plan"
)

// freshStore gives a test its own materials store and temporary directory, as a new
// process would have them.
func freshStore(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	saved := materials
	materials = &store{dirs: map[string]string{}}
	t.Cleanup(func() { Cleanup(); materials = saved })
	return tmp
}

// deadPID is the ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

var tlsEngine = plan.Engine{URL: "tcp://big2:2376", TLS: &plan.TLS{CA: "the CA", Cert: "the cert", Key: "the private key"}}

func TestTLSMaterialIsWrittenPrivatelyAndRemoved(t *testing.T) {
	freshStore(t)
	cmd, err := Command(context.Background(), tlsEngine, "info")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(cmd.Args, "--tlskey")
	if i < 0 || !slices.Contains(cmd.Args, "--tlsverify") || cmd.Args[len(cmd.Args)-1] != "info" {
		t.Fatalf("args = %q", cmd.Args)
	}
	key := cmd.Args[i+1]
	info, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", key, info.Mode().Perm())
	}
	if b, _ := os.ReadFile(key); string(b) != "the private key" {
		t.Errorf("%s holds %q", key, b)
	}
	if !strings.Contains(filepath.Base(filepath.Dir(key)), fmt.Sprintf("%s%d-", dirPrefix, os.Getpid())) {
		t.Errorf("directory %s does not name its process", filepath.Dir(key))
	}
	// The same engine reuses its files; Cleanup removes them.
	again, _ := Command(context.Background(), tlsEngine, "ps")
	if again.Args[i+1] != key {
		t.Errorf("second command uses %s, want %s", again.Args[i+1], key)
	}
	Cleanup()
	if _, err := os.Stat(filepath.Dir(key)); !os.IsNotExist(err) {
		t.Errorf("after Cleanup, %s: %v", filepath.Dir(key), err)
	}
}

func TestKeysOfACrashedRunAreRemovedByTheNext(t *testing.T) {
	tmp := freshStore(t)
	crashed := filepath.Join(tmp, fmt.Sprintf("%s%d-123", dirPrefix, deadPID(t)))
	live := filepath.Join(tmp, fmt.Sprintf("%s%d-456", dirPrefix, os.Getppid()))
	other := filepath.Join(tmp, "labfleet-engine-notes")
	for _, d := range []string{crashed, live, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "key.pem"), []byte("k"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Command(context.Background(), tlsEngine, "info"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Errorf("the crashed run's keys are still there: %v", err)
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(filepath.Join(d, "key.pem")); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}

func TestSSHOptionsGoThroughAWrapperFirstOnPath(t *testing.T) {
	freshStore(t)
	e := plan.Engine{URL: "ssh://admin@big3", SSHOpts: []string{"-i", "/keys/lab admin", "-o", "StrictHostKeyChecking=yes"}}
	cmd, err := Command(context.Background(), e, "info")
	if err != nil {
		t.Skipf("NOT RUN: %v", err)
	}
	if !slices.Equal(cmd.Args[1:], []string{"--host", "ssh://admin@big3", "info"}) {
		t.Errorf("args = %q", cmd.Args)
	}
	var path string
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as exec does
		}
	}
	dir, _, _ := strings.Cut(path, string(os.PathListSeparator))
	wrapper := filepath.Join(dir, "ssh")
	b, err := os.ReadFile(wrapper)
	if err != nil {
		t.Fatalf("no wrapper first on PATH %q: %v", path, err)
	}
	if !strings.Contains(string(b), ` -i '/keys/lab admin' -o StrictHostKeyChecking=yes "$@"`) {
		t.Errorf("wrapper = %s", b)
	}
	if info, _ := os.Stat(wrapper); info.Mode().Perm() != 0o700 {
		t.Errorf("wrapper mode = %v", info.Mode().Perm())
	}
	if !slices.Contains(cmd.Env, "DOCKER_BUILDKIT=0") {
		t.Error("the CLI would need buildx, which hosts may lack")
	}
}
