package images

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
)

// fakeDocker puts a docker CLI on PATH that logs its arguments to calls, fails `save` as
// often as failSaves says, and prints "labprobe-bytes" for `run`.
func fakeDocker(t *testing.T, failSaves int) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$*" >>` + calls + `
case $1 in
save)
  n=$(grep -c '^save' ` + calls + `)
  [ "$n" -le ` + strconv.Itoa(failSaves) + ` ] && { echo "save interrupted" >&2; exit 1; }
  echo archive >"$3" ;;
run) printf 'labprobe-bytes' ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func count(t *testing.T, calls, verb string) int {
	b, _ := os.ReadFile(calls)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, verb+" ") {
			n++
		}
	}
	return n
}

// One team's failure while the shared archive is written (its step ran out of time) is not
// kept: the next team that needs the image writes it again, and after that nobody does.
func TestAFailedArchiveIsWrittenAgainForTheNextTeam(t *testing.T) {
	calls := fakeDocker(t, 1)
	img := New(plan.Engine{}, "improved-app:latest", "sha256:abc", t.TempDir(), steps.NewLimit(0))
	// A node that lacks the image: it is streamed in and tagged.
	node := func() (steps.Node, *stepstest.Node) {
		n := stepstest.New(t).
			On("docker image inspect --format '{{.Id}}' improved-app:latest 2>/dev/null || true").
			On("docker load -q", "Loaded image ID: sha256:abc\n").
			On("docker tag sha256:abc improved-app:latest")
		return steps.Node{Name: "team1-m1", Run: n}, n
	}
	first, n := node()
	if _, err := Load(context.Background(), first, img); err == nil || !strings.Contains(err.Error(), "save interrupted") {
		t.Fatalf("first load: err = %v, want the failed save", err)
	}
	if n.Ran("docker load") {
		t.Errorf("streamed an archive that was never written: %q", n.Commands())
	}
	for range 2 {
		later, n := node()
		if _, err := Load(context.Background(), later, img); err != nil {
			t.Fatalf("a later load: %v", err)
		}
		if got := n.Stdin(); len(got) != 1 || got[0] != "archive\n" || !n.Ran("docker tag sha256:abc improved-app:latest") {
			t.Errorf("a later load streamed %q and ran %q, want the archive, then the tag", got, n.Commands())
		}
	}
	if n := count(t, calls, "save"); n != 2 {
		t.Errorf("docker save ran %d times, want 2 (the failure, then once for everyone)", n)
	}
}

func TestReadFileReadsTheHostOnce(t *testing.T) {
	calls := fakeDocker(t, 0)
	img := New(plan.Engine{}, "improved-app:latest", "sha256:abc", t.TempDir(), steps.NewLimit(0))
	for range 3 {
		b, err := img.ReadFile(context.Background(), "/labprobe")
		if err != nil || string(b) != "labprobe-bytes" {
			t.Fatalf("ReadFile = %q, %v", b, err)
		}
	}
	if n := count(t, calls, "run"); n != 1 {
		t.Errorf("docker run ran %d times on the host, want 1", n)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "run --rm --network none --entrypoint /bin/cat sha256:abc /labprobe") {
		t.Errorf("host calls: %s", b)
	}
}
