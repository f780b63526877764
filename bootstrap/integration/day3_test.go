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
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
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

// hostMemTotalMB reads this machine's memory: the dind nodes share its kernel and memory.
func hostMemTotalMB(t *testing.T) int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var kb int
	if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err != nil {
		t.Fatalf("/proc/meminfo: %v", err)
	}
	return kb / 1024
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
		findings, err := kindprep.Preflight(context.Background(), c.ssh("team1-m1"), c.plan.Day3, false)
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
			"blocking=false the kernel under this node uses cgroup v1": !fileExists("/sys/fs/cgroup/cgroup.controllers"),
			"set labfleet:privilege privileged":                        c.plan.Privilege == plan.PrivilegeReduced,
		}
		for fix, want := range expect {
			if strings.Contains(all, fix) != want {
				t.Errorf("preflight mentions %q: %v, expected %v", fix, !want, want)
			}
		}
	})

	t.Run("a node too small for its cluster fails only its team, after its swarm", func(t *testing.T) {
		p := *c.plan
		// One worker more than this machine's whole memory holds: no node here can have it.
		p.Day3.Clusters, p.Day3.Workers = true, hostMemTotalMB(t)/plan.KindWorkerMB+1
		p.Teams = []plan.Team{c.plan.Teams[0]}
		res, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, day3Options(t, cache))
		if err == nil || !strings.Contains(err.Error(), `team "team1": check what the kind cluster needs: node team1-m1:`) || !strings.Contains(err.Error(), "lower labfleet:kindWorkers") {
			t.Fatalf("err = %v", err)
		}
		if _, ok := res["team1"]; ok {
			t.Error("the team that failed has a result")
		}
	})

	t.Run("a missing node image is named with the fix, and fails only its host's teams", func(t *testing.T) {
		p := *c.plan
		p.Day3.NodeImage = "lfit-kind-absent:v0"
		_, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, day3Options(t, cache))
		for _, want := range []string{`team "team1": day 3: host local: labfleet:kindNodeImage lfit-kind-absent:v0 is not on the Docker host and cannot be pulled there`, `team "team2": day 3`, "docker load -i"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err lacks %q: %v", want, err)
			}
		}
	})
}

var kindNodeImageBuild imageBuild

// requireKindNodeImage has labfleet's own kind node image built on this host, by the same
// code `pulumi up` runs on day 3 (the first time on a machine: about 15 minutes; then it
// finds the image built from the same inputs and returns in seconds).
func requireKindNodeImage(t *testing.T) {
	t.Helper()
	kindNodeImageBuild.once.Do(func() {
		start := time.Now()
		ctx := steps.WithReporter(context.Background(), steps.Lines(func(m string) { fmt.Println("kind node image: " + m) }))
		if _, kindNodeImageBuild.err = kindimage.Build(ctx, repoRoot(), kindimage.DefaultCacheDir(), plan.Engine{}); kindNodeImageBuild.err == nil {
			fmt.Printf("MEASURE kind node image %s ready in %s\n", kindimage.Ref, time.Since(start).Round(100*time.Millisecond))
		}
	})
	if kindNodeImageBuild.err != nil {
		t.Fatalf("building %s: %v", kindimage.Ref, kindNodeImageBuild.err)
	}
}

// A real kind cluster for a team, from labfleet's own offline node image, used the way a
// student does on Day 3 (kindClusterEndToEnd). On this cgroup-v1 host without --privileged,
// the node image's entrypoint switches the kind nodes to what such a host needs (restricted
// OOM scores, the cgroupfs driver) and the kubelets run with failCgroupV1: false.
func TestKindClusterEndToEnd(t *testing.T) {
	requireDocker(t)
	requireKindNodeImage(t)
	cfg := testConfig("lfit-kc", 22900, "172.24.0.0/16")
	cfg.Teams, cfg.Workers, cfg.NodeMemory, cfg.Day2Stack = 1, 2, "4g", true
	kindClusterEndToEnd(t, newCohort(t, cfg))
}

// The same on VM nodes, where the cluster runs in the first manager's guest (cgroup v2,
// --privileged, its own kernel) and the kind node image crosses into the guest. It needs a
// host where KVM works: under TCG emulation (this machine) kind's nodes do not start systemd
// within kind's fixed 30 s (run once here: the Day-2 cohort ready in 3m17s, the image into the
// guest 8m43s, then kind create failed at that wait), which the run reports with the way out
// (kindCreateError). So it runs only when asked (LABFLEET_KIND_ON_VM=1), else says NOT RUN.
func TestKindClusterOnVMNodes(t *testing.T) {
	if os.Getenv("LABFLEET_KIND_ON_VM") != "1" {
		t.Skip("NOT RUN (not a pass): kind on VM nodes needs a host where KVM works (under TCG kind create fails at kind's fixed 30 s wait for systemd); LABFLEET_KIND_ON_VM=1 runs it there")
	}
	requireVMImage(t)
	requireKindNodeImage(t)
	cfg := vmConfig("lfit-kv", 23800, "10.71.0.0/16")
	cfg.VMMemory, cfg.VMCPUs, cfg.NodeCPUs, cfg.Day2Stack = "4g", 2, "2", true
	kindClusterEndToEnd(t, newCohortOf(t, cfg, vmImage))
}

// kindClusterEndToEnd takes a running cohort of one team through Day 2 and Day 3 as a
// student and an instructor do: from every node over the handout's login, the Day-2
// exercises in Kubernetes form with the lab images already in the cluster; then the switches
// an instructor makes (a rerun, day 2 again, day 3 again).
func kindClusterEndToEnd(t *testing.T, c *cohort) {
	ids := labImages(t)
	cache := t.TempDir()
	run := func(t *testing.T, p *plan.Plan) map[string]bootstrap.TeamResult {
		t.Helper()
		res, err := bootstrap.Cohort(context.Background(), p, c.keys, bootstrap.LocalLabImages(ids), day3Options(t, cache))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run(t, c.plan) // day 2
	day3 := *c.plan
	day3.Day3.Prepare, day3.Day3.Clusters = true, true
	start := time.Now()
	day3Results := run(t, &day3)
	k := day3Results["team1"].Kind
	t.Logf("MEASURE day 2 -> every team's kind cluster Ready (node image preload, create, lab images): %s", time.Since(start).Round(time.Second))
	if k.Kubeconfig == "" || !strings.Contains(k.Kubeconfig, k.APIServer) {
		t.Fatalf("kubeconfig for %s: %q", k.APIServer, k.Kubeconfig)
	}
	team := c.plan.Teams[0]
	hostIP := team.Nodes[0].IP.String()
	// A student on the first worker, and on the last node for the cluster made again.
	worker, last := team.Workers()[0].Name, team.Nodes[len(team.Nodes)-1].Name

	t.Run("kubectl works from every node of the team", func(t *testing.T) {
		for _, n := range team.Nodes {
			if out := c.run(n.Name, "kubectl get nodes --no-headers"); strings.Count(out, " Ready ") != 3 {
				t.Errorf("%s: nodes:\n%s", n.Name, out)
			}
		}
	})

	t.Run("the Day-2 lab in Kubernetes form", func(t *testing.T) {
		w1 := worker
		c.run(w1, "kubectl apply -f ~/day3/web.yaml >/dev/null && kubectl rollout status deployment web --timeout 5m >/dev/null")
		ready := func(want int) {
			t.Helper()
			waitFor(t, 5*time.Minute, func() bool {
				out, _ := c.ssh(w1).Run(context.Background(), "kubectl get deployment web -o jsonpath='{.status.readyReplicas}/{.status.replicas}'")
				return strings.TrimSpace(out) == fmt.Sprintf("%d/%d", want, want)
			})
		}
		ready(3)
		victim := strings.TrimSpace(c.run(w1, "kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}'"))
		started := time.Now()
		c.run(w1, "kubectl delete pod "+victim+" --wait=false >/dev/null")
		waitFor(t, 3*time.Minute, func() bool {
			out, _ := c.ssh(w1).Run(context.Background(), "kubectl get pods -l app=web --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].ready}{\"\\n\"}{end}'")
			n := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] != victim && f[1] == "true" {
					n++
				}
			}
			return n == 3
		})
		t.Logf("MEASURE a deleted pod replaced and ready after %s", time.Since(started).Round(100*time.Millisecond))
		c.run(w1, "kubectl scale deployment web --replicas 6 >/dev/null")
		ready(6)
		c.run(w1, "kubectl scale deployment web --replicas 2 >/dev/null")
		ready(2)
		for _, n := range team.Nodes {
			waitFor(t, time.Minute, func() bool {
				out, err := c.ssh(n.Name).Run(context.Background(), "curl -sf --max-time 3 http://"+hostIP+":30080/")
				return err == nil && strings.Contains(out, "served by")
			})
		}
		// A pod finds the Service by name (CoreDNS) and reaches it over the pod network.
		if out := c.run(w1, "kubectl exec deployment/web -- wget -qO- -T 5 http://web:3000/"); !strings.Contains(out, "served by") {
			t.Errorf("from a pod, http://web:3000/ answered %q", out)
		}
	})

	t.Run("make status shows every kind node Ready", func(t *testing.T) {
		out, stderr, code := runStatus(t, statusCommand(t), c.plan.Cohort, stackOutputs(t, c, day3Results), "-json")
		kind := readReport(t, out).Teams[0].Kind
		if code != 0 || kind == nil || len(kind.Nodes) != 3 {
			t.Fatalf("status exit %d, kind %+v\n%s", code, kind, stderr)
		}
		for _, n := range kind.Nodes {
			if !n.Ready {
				t.Errorf("%s (%s) not Ready", n.Name, n.Role)
			}
		}
	})

	t.Run("a rerun changes nothing", func(t *testing.T) {
		if a := run(t, &day3)["team1"].Kind.Actions; len(a) != 0 {
			t.Errorf("actions %v", a)
		}
	})

	t.Run("day 2 again removes the cluster and keeps the Day-2 stack", func(t *testing.T) {
		off := run(t, c.plan)["team1"]
		if !slices.ContainsFunc(off.Kind.Actions, func(a string) bool { return strings.HasPrefix(a, "delete kind cluster team1") }) {
			t.Errorf("actions %v", off.Kind.Actions)
		}
		if out := c.run("team1-m1", "docker ps -q --filter label=io.x-k8s.kind.cluster=team1 | wc -l; docker stack services day2 --format '{{.Replicas}}' | head -1"); !strings.HasPrefix(out, "0\n") || !strings.Contains(out, "/") {
			t.Errorf("after day 2: %q", out)
		}
	})

	t.Run("day 3 once more gives a new cluster", func(t *testing.T) {
		start := time.Now()
		again := run(t, &day3)["team1"].Kind
		t.Logf("MEASURE day 2 -> day 3 again (image already on the node): %s", time.Since(start).Round(time.Second))
		if !slices.ContainsFunc(again.Actions, func(a string) bool { return strings.HasPrefix(a, "create kind cluster team1") }) {
			t.Errorf("actions %v", again.Actions)
		}
		if out := c.run(last, "kubectl get nodes --no-headers"); strings.Count(out, " Ready ") != 3 {
			t.Errorf("nodes:\n%s", out)
		}
	})
}
