package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra/plan"
	"github.com/labfleet/labfleet/stacks/day3"
)

// standInNodeImage replaces kindest/node, which cannot be pulled on a machine without a
// registry, for the preload test: any image shows that it moves once and only once.
const standInNodeImage = "lfit-kind-standin:v1.37.0"

func day3Options(t *testing.T, cache string) bootstrap.Options {
	return bootstrap.Options{Report: steps.Lines(func(m string) { t.Log(m) }), RepoDir: repoRoot(), CacheDir: cache}
}

// hostInt reads a number from this machine's /proc: the nodes share its kernel.
func hostInt(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDay3PreparationInstallsToolsAndPreloadsOnce(t *testing.T) {
	requireDocker(t)
	if _, err := docker(context.Background(), "tag", "debian:trixie-slim", standInNodeImage); err != nil {
		t.Fatal(err)
	}
	hostID, _ := docker(context.Background(), "image", "inspect", "--format", "{{.Id}}", standInNodeImage)
	hostID = strings.TrimSpace(hostID)

	cfg := testConfig("lfit-k", 22800, "172.25.0.0/16")
	cfg.Workers, cfg.Day3Prep, cfg.KindNodeImage = 1, true, standInNodeImage
	c := newCohort(t, cfg)
	cache := t.TempDir()
	start := time.Now()
	res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, day3Options(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE swarm + day-3 preparation of 2 teams x 2 nodes (incl. building kind and kubectl): %s", time.Since(start).Round(100*time.Millisecond))

	for _, team := range c.plan.Teams {
		k := res[team.Name].Kind
		host := team.Nodes[0]
		if k == nil || k.HostNode != host.Name || k.Kubeconfig != "" {
			t.Fatalf("team %s: %+v", team.Name, k)
		}
		for _, n := range team.Nodes {
			for _, tool := range []string{"kind", "kubectl"} {
				if !slices.Contains(k.Actions, "install "+tool+" on "+n.Name) {
					t.Errorf("team %s: %s not installed on %s: %v", team.Name, tool, n.Name, k.Actions)
				}
			}
			if out := c.run(n.Name, "kind version"); !strings.Contains(out, "kind "+day3.KindVersion) {
				t.Errorf("%s: kind version = %q", n.Name, out)
			}
			if out := c.run(n.Name, "kubectl version --client"); !strings.Contains(out, "Client Version: "+day3.KubernetesVersion) {
				t.Errorf("%s: kubectl version --client = %q", n.Name, out)
			}
		}
		if got := strings.TrimSpace(c.run(host.Name, "docker image inspect --format '{{.Id}}' "+standInNodeImage)); got != hostID {
			t.Errorf("%s has %s as %q, host has %q", host.Name, standInNodeImage, got, hostID)
		}
		if !slices.ContainsFunc(k.Actions, func(a string) bool { return strings.HasPrefix(a, "load "+standInNodeImage+" into "+host.Name) }) {
			t.Errorf("team %s: no preload into %s: %v", team.Name, host.Name, k.Actions)
		}
		// The cluster's place is the first manager; the other nodes do not carry 1 GB for nothing.
		if out := c.run(team.Nodes[1].Name, "docker image inspect "+standInNodeImage+" >/dev/null 2>&1 && echo present || echo absent"); strings.TrimSpace(out) != "absent" {
			t.Errorf("%s also got the node image", team.Nodes[1].Name)
		}
		if err := day3.Validate(c.run(host.Name, "cat labfleet/kind.yaml"), c.plan.Day3); err != nil {
			t.Errorf("%s: the config on the node does not load: %v", host.Name, err)
		}
	}

	t.Run("a rerun moves nothing", func(t *testing.T) {
		start := time.Now()
		again, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, day3Options(t, cache))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEASURE no-op rerun with day-3 preparation: %s", time.Since(start).Round(100*time.Millisecond))
		for team, r := range again {
			if len(r.Kind.Actions) != 0 || len(r.Swarm.Actions) != 0 {
				t.Errorf("team %s: %v %v", team, r.Swarm.Actions, r.Kind.Actions)
			}
		}
	})

	t.Run("kind itself accepts the rendered config", func(t *testing.T) {
		// kind's loader and validation are internal to kind; its create command runs them
		// before it touches Docker. Here the create then fails (a stand-in image, and maybe no
		// privileged containers), which is fine: only a config error is a failure.
		out := c.run("team1-m1", "kind create cluster --config labfleet/kind.yaml --wait 0s 2>&1; kind delete cluster --name team1 >/dev/null 2>&1; true")
		t.Logf("kind create on team1-m1:\n%s", out)
		if !strings.Contains(out, "Creating cluster \"team1\"") || strings.Contains(strings.ToLower(out), "invalid") {
			t.Errorf("kind did not get past loading the config:\n%s", out)
		}
		bad := c.run("team1-m1", "sed 's/apiServerPort: 6443/apiServerPort: 99999/' labfleet/kind.yaml > /tmp/bad.yaml && kind create cluster --config /tmp/bad.yaml 2>&1; true")
		if !strings.Contains(bad, "invalid") && !strings.Contains(bad, "port") {
			t.Errorf("kind accepted an invalid port:\n%s", bad)
		}
	})

	t.Run("preflight names what this host lacks", func(t *testing.T) {
		findings, err := kindprep.Preflight(context.Background(), c.ssh("team1-m1"), c.plan.Day3, len(c.plan.Teams))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, f := range findings {
			msgs = append(msgs, fmt.Sprintf("blocking=%v %s", f.Blocking, f.Msg))
		}
		all := strings.Join(msgs, "\n")
		t.Logf("preflight on this host:\n%s", all)
		expect := map[string]bool{
			"blocking=false inotify": hostInt(t, "/proc/sys/fs/inotify/max_user_watches") < kindprep.MinInotifyWatches ||
				hostInt(t, "/proc/sys/fs/inotify/max_user_instances") < kindprep.MinInotifyInstances,
			"systemd.unified_cgroup_hierarchy=1": !fileExists("/sys/fs/cgroup/cgroup.controllers"),
			"set labfleet:privilege privileged":  c.plan.Privilege == plan.PrivilegeReduced,
		}
		for fix, want := range expect {
			if strings.Contains(all, fix) != want {
				t.Errorf("preflight mentions %q: %v, expected %v", fix, !want, want)
			}
		}
	})

	t.Run("day 3 on a host that fails the preflight stops before any work", func(t *testing.T) {
		findings, _ := kindprep.Preflight(context.Background(), c.ssh("team1-m1"), c.plan.Day3, len(c.plan.Teams))
		if !slices.ContainsFunc(findings, func(f kindprep.Finding) bool { return f.Blocking }) {
			t.Skip("NOT RUN (not a pass): this host passes the day-3 preflight, so there is nothing to refuse")
		}
		p := *c.plan
		p.Day3.Clusters = true
		_, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, day3Options(t, cache))
		if err == nil || !strings.Contains(err.Error(), "day 3 preflight, before any work") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a missing node image is named with the fix", func(t *testing.T) {
		p := *c.plan
		p.Day3.NodeImage = "lfit-kind-absent:v0"
		_, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, day3Options(t, cache))
		if err == nil || !strings.Contains(err.Error(), "labfleet:kindNodeImage lfit-kind-absent:v0 is not on the Docker host") || !strings.Contains(err.Error(), "docker pull") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestKindClusterEndToEnd creates real kind clusters. It needs kindest/node on the Docker
// host and a host that passes the day-3 preflight (cgroup v2, --privileged, inotify limits);
// elsewhere it says plainly that it did not run.
func TestKindClusterEndToEnd(t *testing.T) {
	requireDocker(t)
	if id, _ := docker(context.Background(), "image", "inspect", "--format", "{{.Id}}", plan.DefaultKindNodeImage); strings.TrimSpace(id) == "" {
		t.Skipf("NOT RUN (not a pass): %s is not on this Docker host (no registry here); `docker pull %s` and rerun to test cluster creation", plan.DefaultKindNodeImage, plan.DefaultKindNodeImage)
	}
	if !fileExists("/sys/fs/cgroup/cgroup.controllers") {
		t.Skip("NOT RUN (not a pass): this host uses cgroup v1, which Kubernetes " + day3.KubernetesVersion + " nodes do not support")
	}
	cfg := testConfig("lfit-kc", 22900, "172.24.0.0/16")
	cfg.Teams, cfg.Workers, cfg.Day, cfg.Privilege, cfg.NodeMemory = 1, 1, 3, "privileged", "4g"
	c := newCohort(t, cfg)
	cache := t.TempDir()
	res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, day3Options(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	k := res["team1"].Kind
	if k.Kubeconfig == "" || !strings.Contains(k.Kubeconfig, k.APIServer) {
		t.Fatalf("kubeconfig for %s: %q", k.APIServer, k.Kubeconfig)
	}
	// From another node of the team, with the kubeconfig labfleet handed out.
	out := c.run("team1-w1", "kubectl get nodes --no-headers")
	if strings.Count(out, " Ready ") != 3 {
		t.Errorf("nodes:\n%s", out)
	}
	again, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, day3Options(t, cache))
	if err != nil || len(again["team1"].Kind.Actions) != 0 {
		t.Errorf("rerun: %v %v", err, again["team1"].Kind)
	}
	p := *c.plan
	p.Day3.Clusters = false
	off, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, day3Options(t, cache))
	if err != nil || !slices.ContainsFunc(off["team1"].Kind.Actions, func(a string) bool { return strings.HasPrefix(a, "delete kind cluster") }) {
		t.Errorf("day 3 off: %v %v", err, off["team1"].Kind)
	}
}
