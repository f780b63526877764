package kindprep

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day3"
)

func day3Plan(t *testing.T) (plan.Day3, day3.Config) {
	t.Helper()
	cfg := plan.Defaults("dev")
	cfg.Day, cfg.NodeMemory = 3, "3g"
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := day3.Render(p.Day3, p.Teams[0])
	if err != nil {
		t.Fatal(err)
	}
	return p.Day3, c
}

const (
	ready       = "team1-control-plane Ready control-plane 1m v1.37.0\nteam1-worker Ready <none> 1m v1.37.0\nteam1-worker2 Ready <none> 1m v1.37.0\n"
	notReadyYet = "team1-control-plane Ready control-plane 1m v1.37.0\nteam1-worker Ready <none> 1m v1.37.0\nteam1-worker2 NotReady <none> 5s v1.37.0\n"
)

// The cluster decisions: create when absent; leave a healthy one alone; report, never
// recreate, an unhealthy one that was once healthy; recreate one whose creation labfleet
// started and that never became healthy (an interrupted run).
func TestClusterDecisions(t *testing.T) {
	d, cfg := day3Plan(t)
	for _, tc := range []struct {
		name           string
		exists, marks  string
		nodes          string
		deleted, built bool
		limit          time.Duration
		errs           string
	}{
		{name: "absent: created", exists: "", nodes: ready, built: true},
		{name: "healthy: left alone", exists: "team1\n", marks: "creating\nhealthy\n", nodes: ready},
		{name: "healthy, made before markers: left alone", exists: "team1\n", marks: "", nodes: ready},
		{name: "broken after it was healthy: reported", exists: "team1\n", marks: "creating\nhealthy\n", nodes: "team1-control-plane NotReady\n", errs: "exists but is not healthy"},
		{name: "broken, not labfleet's: reported", exists: "team1\n", marks: "", nodes: "team1-control-plane NotReady\n", errs: "kind delete cluster --name team1"},
		{name: "interrupted creation: recreated", exists: "team1\n", marks: "creating\n", nodes: ready, deleted: true, built: true},
		// kind's --wait covers the control plane only.
		{name: "absent: created, its workers Ready after the control plane", exists: "", nodes: notReadyYet + "\x00" + ready, built: true},
		{name: "absent: created, a worker never Ready: reported", exists: "", nodes: notReadyYet, built: true, limit: time.Millisecond, errs: `kind cluster "team1" on team1-m1 was created but is not healthy after 1ms: 2 of 3 nodes Ready`},
	} {
		limit := time.Minute
		if tc.limit != 0 {
			limit = tc.limit
		}
		host := stepstest.New(t).
			On("if command -v kind", tc.exists).
			On("test -e labfleet/kind-team1.creating", tc.marks).
			On("mkdir -p .kube && kind get kubeconfig", strings.Split(tc.nodes, "\x00")...).
			// What the decisions may do; whether they did is checked below.
			On("kind delete cluster --name team1").
			On("mkdir -p .kube labfleet && touch labfleet/kind-team1.creating && kind create cluster --config labfleet/kind.yaml --wait " + limit.String() + " --kubeconfig .kube/kind-team1").
			On("test -e labfleet/kind-team1.healthy || { mkdir -p labfleet && touch labfleet/kind-team1.healthy; }")
		tm := &team{host: Node{Name: "team1-m1", Run: host}}
		err := tm.ensureCluster(context.Background(), d, cfg, Timing{Create: limit})
		if (err != nil) != (tc.errs != "") || (err != nil && !strings.Contains(err.Error(), tc.errs)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.errs)
		}
		if host.Ran("kind delete cluster") != tc.deleted || host.Ran("mkdir -p .kube labfleet && touch labfleet/kind-team1.creating && kind create cluster") != tc.built {
			t.Errorf("%s: deleted %v built %v: %v", tc.name, host.Ran("kind delete"), host.Ran("mkdir -p .kube labfleet"), host.Commands())
		}
		if marked := host.Ran("test -e labfleet/kind-team1.healthy || {"); marked != (tc.errs == "") {
			t.Errorf("%s: marked healthy %v, want %v", tc.name, marked, tc.errs == "")
		}
	}
}

// What the cluster needs is read on its own node: memory is that node's (a VM guest's, a
// machine's, what a dind node's limit leaves), a cluster that runs already needs none more,
// and cgroup v1 is a warning (the kubelets run with failCgroupV1: false).
func TestPreflightFindings(t *testing.T) {
	d, _ := day3Plan(t) // 1 control plane + 2 workers: about 2048 MB
	for _, tc := range []struct {
		name, out string
		running   bool
		blocking  int
		warn      []string
	}{
		{"a good node", "524288\n512\ncgroup2fs\n000001ffffffffff\n16000000\nmax\n0\n", false, 0, nil},
		{"cgroup v1", "524288\n512\ntmpfs\n000001ffffffffff\n16000000\nmax\n0\n", false, 0, []string{"cgroup v1", "failCgroupV1: false"}},
		{"a VM guest of 1 GB", "524288\n512\ncgroup2fs\n000001ffffffffff\n900000\nmax\n0\n", false, 1, []string{"878 MB of memory is available to this node", "vmMemory"}},
		{"the same, its cluster running", "524288\n512\ncgroup2fs\n000001ffffffffff\n900000\nmax\n0\n", true, 0, nil},
		{"a dind node whose limit leaves 1 GB on a big host", "524288\n512\ncgroup2fs\n000001ffffffffff\n16000000\n3221225472\n2147483648\n", false, 1, []string{"1024 MB of memory is available"}},
		{"low inotify and no CAP_SYS_RESOURCE", "8192\n128\ncgroup2fs\n000001fffeffffff\n16000000\nmax\n0\n", false, 0, []string{"inotify", "CAP_SYS_RESOURCE"}},
	} {
		n := stepstest.New(t).On("cat /proc/sys/fs/inotify", tc.out)
		findings, err := Preflight(context.Background(), n, d, tc.running)
		if err != nil {
			t.Fatal(err)
		}
		blocking, all := 0, ""
		for _, f := range findings {
			if f.Blocking {
				blocking++
			}
			all += f.Msg + "\n"
		}
		if blocking != tc.blocking {
			t.Errorf("%s: %d blocking, want %d:\n%s", tc.name, blocking, tc.blocking, all)
		}
		for _, w := range tc.warn {
			if !strings.Contains(all, w) {
				t.Errorf("%s: findings lack %q:\n%s", tc.name, w, all)
			}
		}
		if tc.warn == nil && len(findings) != 0 {
			t.Errorf("%s: findings on a good node:\n%s", tc.name, all)
		}
	}
	if _, err := Preflight(context.Background(), stepstest.New(t).On("cat", "garbage"), d, false); err == nil {
		t.Error("unreadable preflight output accepted")
	}
}

// kind's fixed 30 s wait for systemd fails on VM guests under emulation; only that failure,
// and only there, gets the way out (KVM, or dind nodes); every other error stays as it was.
func TestKindCreateErrorNamesTheWayOutUnderTCG(t *testing.T) {
	systemdWait := errors.New(`team1-m1: kind create cluster: exit status 1: ERROR: failed to create cluster: could not find a log line that matches "Reached target .*Multi-User System.*|detected cgroup v1"`)
	other := errors.New("team1-m1: kind create cluster: exit status 1: ERROR: failed to create cluster: failed to init node with kubeadm")
	for _, c := range []struct {
		name   string
		err    error
		pace   float64
		wayOut bool
	}{
		{"systemd too slow under TCG", systemdWait, plan.PaceTCG, true},
		{"the same wait on dind nodes", systemdWait, plan.PaceContainer, false},
		{"the same wait under KVM", systemdWait, plan.PaceKVM, false},
		{"another failure under TCG", other, plan.PaceTCG, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := kindCreateError(c.err, steps.Pace(c.pace))
			if !errors.Is(got, c.err) {
				t.Errorf("%v does not wrap %v", got, c.err)
			}
			hasWayOut := strings.Contains(got.Error(), "labfleet:vmAccel kvm") && strings.Contains(got.Error(), "labfleet:nodeKind dind")
			if hasWayOut != c.wayOut {
				t.Errorf("way out given: %v, want %v:\n%v", hasWayOut, c.wayOut, got)
			}
		})
	}
}
