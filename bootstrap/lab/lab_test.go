package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

const inspect = "docker service ls --filter label=com.docker.stack.namespace=day2"

func TestStackDriftSaysWhyTheStackIsDeployedAgain(t *testing.T) {
	ingress, _ := day2.Render(8090, false, []string{"sha256:a", "sha256:b"})
	host, _ := day2.Render(8090, true, []string{"sha256:a", "sha256:b"})
	for _, tc := range []struct {
		name     string
		stack    day2.Stack
		deployed string
		want     string
	}{
		{"nothing deployed", ingress, "", "it was not there yet"},
		{"as labfleet left it", ingress, "day2_web " + ingress.Hash + " 3\n", ""},
		{"as labfleet left it, host mode", host, "day2_web " + host.Hash + " 3\nday2_edge  global\n", ""},
		{"a new labfleet or new images", ingress, "day2_web 0123456789abcdef 3\n", "the stack changed"},
		{"scaled to 0 by a student", ingress, "day2_web " + ingress.Hash + " 0\n", "day2_web was scaled to 0, restored to 3"},
		{"scaled to 6 by a student", ingress, "day2_web " + ingress.Hash + " 6\n", "day2_web was scaled to 6, restored to 3"},
		{"edge removed by a student", host, "day2_web " + host.Hash + " 3\n", "day2_edge was removed"},
		{"web removed, edge left", host, "day2_edge  global\n", "day2_web was removed"},
	} {
		n := stepstest.New(t).On(inspect, tc.deployed)
		got, err := stackDrift(context.Background(), Node{Name: "t1-m1", Run: n}, tc.stack)
		if err != nil || !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("%s: drift %q (err %v), want %q", tc.name, got, err, tc.want)
		}
	}
}

// A stack as labfleet left it is not deployed again; a scaled one is, and the run says why,
// without touching any service that is not the stack's.
func TestDeployRestoresOnlyTheStack(t *testing.T) {
	stack, _ := day2.Render(8090, false, []string{"sha256:a"})
	sum := sha256.Sum256([]byte(stack.YAML))
	students := "/home/student/labfleet/day2-stack.yml"
	m1 := stepstest.New(t).
		On(inspect, "day2_web "+stack.Hash+" 0\n", "day2_web "+stack.Hash+" 3\n").
		// The students' copy is there from the first run on, as this stack; labfleet's own
		// copy is as the last deploy left it, and written again anyway.
		On("sudo -n -u student sh -c 'sha256sum "+students+" ", hex.EncodeToString(sum[:])+"  "+students+"\n").
		On("sha256sum labfleet/day2-stack.yml ", "").
		On("mkdir -p labfleet && (umask 077 && tee labfleet/day2-stack.yml.new >/dev/null) && ").
		On("docker stack deploy --prune --resolve-image never -c labfleet/day2-stack.yml day2")
	tm := &team{name: "t1", nodes: []Node{{Name: "t1-m1", Role: plan.Manager, Run: m1}}, timing: Timing{Converge: 1e9, Poll: 1e6}}
	if err := tm.deploy(context.Background(), 8090, false, []string{"sha256:a"}); err != nil {
		t.Fatal(err)
	}
	if !m1.Ran("docker stack deploy --prune --resolve-image never -c labfleet/day2-stack.yml day2") {
		t.Errorf("not redeployed: %v", m1.Commands())
	}
	if got := m1.Stdin(); len(got) != 1 || got[0] != stack.YAML {
		t.Errorf("wrote %q, want the stack once, as labfleet's copy", got)
	}
	if got := strings.Join(tm.List(), "; "); got != "deploy stack day2 ("+stack.Hash+") from t1-m1: day2_web was scaled to 0, restored to 3" {
		t.Errorf("actions %q", got)
	}
	for _, cmd := range m1.Commands() {
		if strings.Contains(cmd, "docker service rm") || strings.Contains(cmd, "docker service scale") {
			t.Errorf("touched services by hand: %s", cmd)
		}
	}
	before, actions := m1.Count("docker stack deploy"), len(tm.List())
	if err := tm.deploy(context.Background(), 8090, false, []string{"sha256:a"}); err != nil || m1.Count("docker stack deploy") != before || len(tm.List()) != actions {
		t.Errorf("an unchanged stack was deployed again: %v, actions %q", err, tm.List())
	}
}

func TestNotConvergedReadsReplicaCounts(t *testing.T) {
	got := NotConverged("day2_web 3/3\nday2_edge 2/3\nday2_x 0/0\n")
	if strings.Join(got, ",") != "day2_edge 2/3,day2_x 0/0" {
		t.Errorf("got %v", got)
	}
}

func TestParseReplicas(t *testing.T) {
	for in, want := range map[string][2]int{
		"3/3":                  {3, 3},
		"2/3":                  {2, 3},
		"0/0":                  {0, 0},
		"3/0":                  {3, 0}, // scaled to 0, tasks still stopping
		"3/3 (max 1 per node)": {3, 3},
		"0/1 (0/1 completed)":  {0, 1},
		" 12/12 ":              {12, 12},
		"1/1 (3/5 completed)":  {1, 1},
	} {
		r, d, err := ParseReplicas(in)
		if err != nil || [2]int{r, d} != want {
			t.Errorf("%q: %d/%d %v, want %v", in, r, d, err, want)
		}
	}
	for _, bad := range []string{"", "3", "x/3", "3/y", "-"} {
		if _, _, err := ParseReplicas(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// labprobe is read once out of the image on the Docker host and streamed into the nodes
// that lack it: no node starts a container for it (on a busy VM guest that took minutes),
// and a node that has this image's copy is left alone.
func TestLabprobeIsStreamedFromTheHost(t *testing.T) {
	dir := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1\" = run ] && printf 'labprobe-bytes'\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	source := Image{Name: "improved-app", Image: images.New(plan.Engine{}, "improved-app:latest", "sha256:abc", t.TempDir(), steps.NewLimit(0))}
	// A node without labprobe: no stamp, no binary, both written through sudo.
	fresh := stepstest.New(t).
		On("cat /etc/labfleet/labprobe.image 2>/dev/null || true").
		On("sudo -n sha256sum /usr/local/bin/labprobe ").
		On("sudo -n sha256sum /etc/labfleet/labprobe.image ").
		On("sudo -n mkdir -p /usr/local/bin && (umask 077 && sudo -n tee /usr/local/bin/labprobe.new >/dev/null) && ").
		On("sudo -n mkdir -p /etc/labfleet && (umask 077 && sudo -n tee /etc/labfleet/labprobe.image.new >/dev/null) && ")
	current := stepstest.New(t).On("cat /etc/labfleet/labprobe.image 2>/dev/null || true", "sha256:abc\n")
	tm := &team{name: "t1", nodes: []Node{{Name: "t1-w1", Run: fresh}, {Name: "t1-w2", Run: current}}}
	if err := tm.installProbe(context.Background(), []Image{source}); err != nil {
		t.Fatal(err)
	}
	if got := fresh.Stdin(); len(got) != 2 || got[0] != "labprobe-bytes" || got[1] != "sha256:abc\n" {
		t.Errorf("the fresh node was sent %q, want the binary then its stamp", got)
	}
	if !strings.Contains(strings.Join(fresh.Commands(), "\n"), "sudo -n mv /usr/local/bin/labprobe.new /usr/local/bin/labprobe") {
		t.Errorf("labprobe not put in place: %v", fresh.Commands())
	}
	for _, n := range []*stepstest.Node{fresh, current} {
		if n.Ran("docker run") {
			t.Errorf("a node started a container: %v", n.Commands())
		}
	}
	if len(current.Stdin()) != 0 {
		t.Errorf("the node that had this image's labprobe was sent %q", current.Stdin())
	}
	if got := tm.List(); len(got) != 1 || got[0] != "install labprobe on t1-w1" {
		t.Errorf("actions %q", got)
	}
}

// answers is a manager whose command answers come in turn: an error, or an output.
type answers struct {
	replies []any
	calls   int
}

func (a *answers) Run(ctx context.Context, cmd string) (string, error) {
	r := a.replies[min(a.calls, len(a.replies)-1)]
	a.calls++
	if err, ok := r.(error); ok {
		return "", err
	}
	return r.(string), nil
}

func (a *answers) RunWithInput(ctx context.Context, cmd string, _ io.Reader) (string, error) {
	return a.Run(ctx, cmd)
}

// `docker stack rm` does not wait for the services' tasks to stop: the stack's network can
// still be in use when it tries to remove it (seen in CI), or be gone yet still listed.
// Remove tries again until nothing of the stack is listed, so a rerun finds nothing to do;
// any other failure is reported at once.
func TestRemoveTriesAgainWhileTheStacksNetworkIsInUse(t *testing.T) {
	busy := errors.New("node team1-m1: exit code 1: Failed to remove network jssm8tlulk3d: Error response from daemon: rpc error: code = FailedPrecondition desc = network jssm8tlulk3d is in use by task 70wobc5oudyc")
	// Removed, yet still listed on the manager for a moment: `docker stack rm` finds it gone.
	gone := errors.New("node team1-m1: exit code 1: Failed to remove network nhzhf79utlycj: Error response from daemon: network nhzhf79utlycj not foundFailed to remove some resources from stack: day2")
	mgr := &answers{replies: []any{busy, gone, "removed\n", "gone\n"}}
	removed, err := Remove(context.Background(), "team1", []Node{{Name: "team1-m1", Role: plan.Manager, Run: mgr}})
	if err != nil || !removed || mgr.calls != 4 {
		t.Errorf("removed %v, err %v after %d tries; want removed, and gone after 4", removed, err, mgr.calls)
	}
	// The services went in a try that failed on the network, which was then gone: removed.
	mgr = &answers{replies: []any{busy, gone, "gone\n"}}
	if removed, err := Remove(context.Background(), "team1", []Node{{Name: "team1-m1", Role: plan.Manager, Run: mgr}}); err != nil || !removed {
		t.Errorf("services removed in a failed try: removed %v, err %v", removed, err)
	}
	// Nothing there: nothing removed, one look.
	mgr = &answers{replies: []any{"gone\n"}}
	if removed, err := Remove(context.Background(), "team1", []Node{{Name: "team1-m1", Role: plan.Manager, Run: mgr}}); err != nil || removed || mgr.calls != 1 {
		t.Errorf("no stack: removed %v, err %v after %d tries", removed, err, mgr.calls)
	}
	other := errors.New("node team1-m1: exit code 1: Cannot connect to the Docker daemon")
	mgr = &answers{replies: []any{other, "removed\n"}}
	removed, err = Remove(context.Background(), "team1", []Node{{Name: "team1-m1", Role: plan.Manager, Run: mgr}})
	if !errors.Is(err, other) || removed || mgr.calls != 1 {
		t.Errorf("removed %v, err %v after %d tries; want the daemon's error after 1", removed, err, mgr.calls)
	}
}
