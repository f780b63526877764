package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

var (
	labOnce sync.Once
	labIDs  map[string]string
	labErr  error
)

// labImages builds the lab images from stacks/apps exactly as the program's docker.Image
// resources do (same Dockerfile, same targets) and returns their IDs by name.
func labImages(t *testing.T) map[string]string {
	t.Helper()
	labOnce.Do(func() {
		labIDs = map[string]string{}
		for _, img := range day2.Images {
			start := time.Now()
			ref := labImageRef(img.Name)
			if _, labErr = docker(context.Background(), "build", "-q", "--target", img.Target, "-t", ref, filepath.Join(repoRoot(), day2.AppsContext)); labErr != nil {
				return
			}
			out, err := docker(context.Background(), "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref)
			if labErr = err; err != nil {
				return
			}
			f := strings.Fields(out)
			labIDs[img.Name] = f[0]
			fmt.Printf("MEASURE built %s in %s: %s bytes\n", img.Name, time.Since(start).Round(time.Millisecond), f[1])
		}
	})
	if labErr != nil {
		t.Fatalf("building the lab images: %v", labErr)
	}
	return labIDs
}

// labImageRef is the tag the tests build a lab image under on the host.
func labImageRef(name string) string { return day2.Image{Name: name}.HostRef("lfit") }

func TestLabImagesAreSmall(t *testing.T) {
	requireDocker(t)
	for name, id := range labImages(t) {
		out, err := docker(context.Background(), "image", "inspect", "--format", "{{.Size}}", id)
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		fmt.Sscan(out, &size)
		if size <= 0 || size >= 20<<20 {
			t.Errorf("%s is %d bytes, want under 20 MB", name, size)
		}
	}
}

// day2Cohort is one team of three nodes with the Day-2 lab on it. Each test gets its own
// names, ports and subnet, so one test's teardown never races the next one's setup.
func day2Cohort(t *testing.T, name string, portBase int, pool string) (*cohort, map[string]bootstrap.TeamResult) {
	t.Helper()
	requireDocker(t)
	ids := labImages(t)
	cfg := testConfig(name, portBase, pool)
	cfg.Teams, cfg.NodeMemory, cfg.Day2Stack = 1, "1g", true
	c := newCohort(t, cfg)
	start := time.Now()
	res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), bootstrap.Options{Report: steps.Lines(func(m string) { t.Log(m) })})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE swarm + Day-2 lab on 1 team x 3 nodes: %s", time.Since(start))
	return c, res
}

func manager(c *cohort) lab.Node {
	n := c.plan.Teams[0].Nodes[0]
	return lab.Node{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: c.ssh(n.Name)}
}

func runningTasks(t *testing.T, c *cohort, service string) []string {
	out := c.run("team1-m1", fmt.Sprintf("docker service ps -q --filter desired-state=running %s", service))
	var ids []string
	for _, line := range strings.Fields(out) {
		state := strings.TrimSpace(c.run("team1-m1", "docker inspect --format '{{.Status.State}}' "+line))
		if state == "running" {
			ids = append(ids, line)
		}
	}
	return ids
}

func TestDay2StackConvergesHealsAndScales(t *testing.T) {
	c, res := day2Cohort(t, "lfit-d2", 22600, "172.27.0.0/16")
	r := res["team1"]
	if r.Lab == nil || r.Lab.Mesh == "" {
		t.Fatalf("no lab result: %+v", r)
	}
	ipvs, err := lab.HasIPVS(context.Background(), manager(c))
	if err != nil {
		t.Fatal(err)
	}
	wantMesh := map[bool]plan.RoutingMesh{true: plan.MeshIngress, false: plan.MeshHost}[ipvs]
	if r.Lab.Mesh != wantMesh {
		t.Errorf("mesh %s on a host with IPVS=%v", r.Lab.Mesh, ipvs)
	}
	t.Logf("host has IPVS: %v, day2 published in %s mode", ipvs, r.Lab.Mesh)
	for _, n := range c.plan.Teams[0].Nodes {
		if !slices.Contains(r.Lab.Actions, "load memory-leak-app:latest into "+n.Name) && !slices.ContainsFunc(r.Lab.Actions, func(a string) bool {
			return strings.HasPrefix(a, "load memory-leak-app:latest into "+n.Name+" ")
		}) {
			t.Errorf("memory-leak-app was not loaded into %s: %v", n.Name, r.Lab.Actions)
		}
	}

	t.Run("every service runs all replicas", func(t *testing.T) {
		out := c.run("team1-m1", "docker stack services --format '{{.Name}} {{.Replicas}}' day2")
		if !strings.Contains(out, "day2_web 3/3") {
			t.Errorf("services:\n%s", out)
		}
	})

	t.Run("the app answers through every node and requests spread over tasks", func(t *testing.T) {
		for _, url := range r.Lab.AppURLs {
			served := map[string]bool{}
			for i := 0; i < 9; i++ {
				out := c.run("team1-w1", "curl -sf --max-time 3 "+url)
				if !strings.Contains(out, "improved-app served by") {
					t.Fatalf("%s: %q", url, out)
				}
				served[strings.Fields(out)[3]] = true
			}
			if len(served) < 2 {
				t.Errorf("%s: all 9 requests served by %v", url, served)
			}
		}
	})

	t.Run("a rerun changes nothing", func(t *testing.T) {
		again, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(labImages(t)), bootstrap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a := again["team1"]; len(a.Swarm.Actions) != 0 || len(a.Lab.Actions) != 0 {
			t.Errorf("actions: %v %v", a.Swarm.Actions, a.Lab.Actions)
		}
	})

	t.Run("a killed task is replaced", func(t *testing.T) {
		before := runningTasks(t, c, "day2_web")
		if len(before) != 3 {
			t.Fatalf("running tasks before: %v", before)
		}
		// Kill the container of one task, on the node that runs it.
		victim := strings.Fields(c.run("team1-m1", "docker inspect --format '{{.NodeID}} {{.Status.ContainerStatus.ContainerID}}' "+before[0]))
		host := strings.TrimSpace(c.run("team1-m1", "docker node inspect --format '{{.Description.Hostname}}' "+victim[0]))
		killed := time.Now()
		c.run(host, "docker kill "+victim[1]+" >/dev/null")
		deadline := killed.Add(2 * time.Minute)
		for {
			now := runningTasks(t, c, "day2_web")
			if len(now) == 3 && !slices.Contains(now, before[0]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not healed: running %v", now)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("MEASURE a killed day2_web task was replaced and healthy after %s", time.Since(killed).Round(100*time.Millisecond))
	})

	t.Run("scale to 6 then 2", func(t *testing.T) {
		for _, n := range []int{6, 2, 3} {
			start := time.Now()
			c.run("team1-m1", fmt.Sprintf("docker service scale --detach day2_web=%d >/dev/null", n))
			if err := lab.WaitForReplicas(context.Background(), manager(c), "day2", lab.Timing{}); err != nil {
				t.Fatal(err)
			}
			if got := len(runningTasks(t, c, "day2_web")); got != n {
				t.Errorf("scaled to %d, %d running", n, got)
			}
			t.Logf("MEASURE scale day2_web to %d: %s", n, time.Since(start).Round(100*time.Millisecond))
		}
	})

	t.Run("switching the stack off removes it, once", func(t *testing.T) {
		p := *c.plan
		p.Day2.Enabled = false
		for run, want := range []bool{true, false} {
			res, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, bootstrap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			removed := slices.Contains(res["team1"].Swarm.Actions, "remove the day2 stack (labfleet:day2Stack is off)")
			if removed != want {
				t.Errorf("run %d: actions %v", run+1, res["team1"].Swarm.Actions)
			}
		}
		if out := c.run("team1-m1", "docker stack ls --format '{{.Name}}'"); strings.TrimSpace(out) != "" {
			t.Errorf("stacks left: %q", out)
		}
	})
}

// TestCourseCommandsOnANode runs the Day-2 handout's commands as written, as a student on a
// node: Phase 1's one load that must exhaust the leaking app (at 512m and 256m), and
// Phase 2's load while the swarm service scales 6 -> 2, which must keep answering.
func TestCourseCommandsOnANode(t *testing.T) {
	c, res := day2Cohort(t, "lfit-d3", 22700, "172.26.0.0/16")
	node := "team1-w1"
	sh := func(cmd string) string {
		t.Helper()
		return c.run(node, cmd)
	}

	// Phase 1: the single container, with the course's limit and the handout's commands.
	startVulnerableApp(t, c, node, "512m")
	for _, cmd := range []string{
		"docker stats --no-stream vulnerable-app",
		"docker logs vulnerable-app 2>&1",
		"timeout 3 docker exec vulnerable-app top -b -n 1",
		"free -h",
		`curl -w "@curl-format.txt" -o /dev/null -s http://localhost:8080/`,
		"watch --version",
		"jq --version",
		"ab -V",
	} {
		if out := sh(cmd); strings.TrimSpace(out) == "" {
			t.Errorf("%s printed nothing", cmd)
		}
	}
	if out := sh(`curl -w "@curl-format.txt" -o /dev/null -s http://localhost:8080/`); !strings.Contains(out, "time_total:") {
		t.Errorf("curl-format.txt not used: %q", out)
	}
	if out := sh("curl -s http://localhost:8080/stats"); !strings.Contains(out, fmt.Sprintf(`"limitBytes":%d`, 512<<20)) {
		t.Errorf("the app does not see its 512m limit: %s", out)
	}
	phase1(t, c, node, "512m")
	// Another limit behaves alike: the leak is sized from the container's own limit.
	startVulnerableApp(t, c, node, "256m")
	phase1(t, c, node, "256m")

	// Phase 2: the course's service, as written, scaled 6 -> 2 under the course's load.
	mgr := "team1-m1"
	c.run(mgr, "docker service create --detach --name web-service --replicas 3 --publish 8080:3000 --update-delay 10s --update-parallelism 1 improved-app:latest >/dev/null")
	mgrNode := manager(c)
	waitService := func(want string) {
		t.Helper()
		ctx := context.Background()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
			out, _ := mgrNode.Run.Run(ctx, "docker service ls --filter name=web-service --format '{{.Replicas}}'")
			if strings.HasPrefix(strings.TrimSpace(out), want) {
				return
			}
			if time.Now().After(deadline) {
				tasks, _ := mgrNode.Run.Run(ctx, "docker service ps --no-trunc --format '{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}' web-service 2>&1")
				t.Fatalf("web-service not %s within 2m0s (replicas %q); its tasks:\n%s", want, strings.TrimSpace(out), tasks)
			}
		}
	}
	waitService("3/3")
	c.run(mgr, "docker service scale --detach web-service=6 >/dev/null")
	waitService("6/6")
	if res["team1"].Lab.Mesh != plan.MeshIngress {
		// Without IPVS the ingress port cannot answer (the preflight says so), yet the
		// service converges and scales. Then the README's recipe for hosts without IPVS.
		c.run(mgr, "docker service scale --detach web-service=2 >/dev/null")
		waitService("2/2")
		c.run(mgr, "docker service rm web-service >/dev/null")
		c.run(mgr, "docker service create --detach --name web-service --replicas 3 --endpoint-mode dnsrr --network day2_lab --update-delay 10s --update-parallelism 1 improved-app:latest >/dev/null")
		c.run(mgr, "docker service create --detach --name web-edge --mode global --network day2_lab --publish mode=host,target=3000,published=8080 improved-app:latest -proxy tasks.web-service:3000 >/dev/null")
		waitService("3/3")
		c.run(mgr, "docker service scale --detach web-service=6 >/dev/null")
		waitService("6/6")
	}
	for _, n := range c.plan.Teams[0].Nodes {
		waitFor(t, 2*time.Minute, func() bool {
			out, err := mgrNode.Run.Run(context.Background(), fmt.Sprintf("curl -sf --max-time 2 http://%s:8080/", n.IP))
			return err == nil && strings.Contains(out, "served by")
		})
	}
	phase2(t, c, mgr)
	waitService("2/2")
	if out := c.run(mgr, "curl -sf --max-time 3 http://localhost:8080/health"); !strings.Contains(out, "ok") {
		t.Errorf("web-service (%s mode) does not answer after scaling to 2: %q", res["team1"].Lab.Mesh, out)
	}
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
