package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/status"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/internal/headless"
	"github.com/labfleet/labfleet/model/outputs"
)

// stackOutputs is the `pulumi stack output --json` a real stack of this cohort would have:
// the program's teams output, built from the same outputs.NodesFor and the bootstrap's
// results.
func stackOutputs(t *testing.T, c *cohort, results map[string]bootstrap.TeamResult) []byte {
	t.Helper()
	teams := map[string]any{}
	for _, team := range c.plan.Teams {
		r := results[team.Name]
		teams[team.Name] = map[string]any{
			"nodes":       outputs.NodesFor(c.plan, team, c.keys),
			"sshUser":     c.plan.SSHUser,
			"network":     team.Subnet.String(),
			"status":      "ready",
			"clusterId":   r.Swarm.ClusterID,
			"managerAddr": r.Swarm.ManagerAddr,
			"routingMesh": string(r.Lab.Mesh),
			"appUrls":     r.Lab.AppURLs,
			"kind":        r.KindOutput(),
		}
	}
	out, err := json.Marshal(map[string]any{"teams": teams})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statusCommand builds the command `make status` runs.
func statusCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "status")
	build := exec.Command("go", "build", "-o", bin, "./cmd/status")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the status command: %v: %s", err, out)
	}
	return bin
}

var writeDocsDashboard = flag.Bool("docs-dashboard", false, "write docs/dashboard.png, the README's screenshot of make dashboard, from TestStatusOfACohort")

// startDashboard runs the command as `make dashboard` does, on a free loopback port, until
// the test ends, and returns the page's URL.
func startDashboard(t *testing.T, bin, cohortName string, outputs []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-cohort", cohortName, "-seed-file", seedFile(t), "-serve", "127.0.0.1:0"}, args...)...)
	cmd.Stdin = bytes.NewReader(outputs)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	_, rest, found := strings.Cut(line, "http://")
	if err != nil || !found {
		t.Fatalf("the dashboard printed no address: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	url := "http://" + strings.Fields(rest)[0]
	// The page shows teams only once the command's first check of the cohort has ended
	// (status.json answers 503 until then), and a headless page load has a fixed budget of
	// its own: wait for that first check here, so a slow check is never taken for a wrong page.
	client := http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := client.Get(url + "status.json")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url
			}
			err = errors.New(res.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard's first check had not ended a minute after it started: status.json: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// seedFile holds the key seed as `pulumi config get` prints it, ending with a newline.
func seedFile(t *testing.T) string {
	t.Helper()
	seed := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seed, []byte(testSeed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return seed
}

// runStatus runs the command as `make status` does: outputs on stdin, the seed in a file
// ending with the newline `pulumi config get` prints.
func runStatus(t *testing.T, bin, cohortName string, outputs []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-cohort", cohortName, "-seed-file", seedFile(t)}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(outputs), &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func readReport(t *testing.T, out string) status.Report {
	t.Helper()
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status -json printed no report: %v\n%s", err, out)
	}
	return r
}

// Two teams of three nodes with the Day-2 lab: status says all ready (exit 0); then one
// team's day2 service is scaled to 0 and a node of the other team is stopped: status names
// both teams, the service and the node, and exits 1.
func TestStatusOfACohort(t *testing.T) {
	requireDocker(t)
	ids := labImages(t)
	cfg := testConfig("lfit-st", 24100, "10.61.0.0/16")
	cfg.Teams, cfg.NodeMemory, cfg.Day2Stack = 2, "1g", true
	c := newCohort(t, cfg)
	results, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), bootstrap.Options{Report: steps.Lines(func(m string) { t.Log(m) })})
	if err != nil {
		t.Fatal(err)
	}
	// A service of the students' own, which status shows beside the lab's.
	c.run("team1-m1", "docker service create --detach=false -q --name web-service --replicas 2 --endpoint-mode dnsrr improved-app:latest >/dev/null")
	outputs := stackOutputs(t, c, results)
	bin := statusCommand(t)

	t.Run("all ready", func(t *testing.T) {
		start := time.Now()
		table, stderr, code := runStatus(t, bin, c.plan.Cohort, outputs)
		t.Logf("MEASURE status of 2 teams x 3 nodes (command, SSH included): %s", time.Since(start).Round(time.Millisecond))
		t.Logf("status:\n%s", table)
		if code != 0 {
			t.Fatalf("exit code %d, want 0; stderr: %s\n%s", code, stderr, table)
		}
		for _, want := range []string{"all 2 teams ready", "3/3 Ready, m1 leader", "web-service 2/2"} {
			if !strings.Contains(table, want) {
				t.Errorf("table lacks %q", want)
			}
		}
		if strings.Contains(table, "\x1b[") {
			t.Error("colours in output to a pipe")
		}
		out, _, code := runStatus(t, bin, c.plan.Cohort, outputs, "-json")
		r := readReport(t, out)
		if code != 0 || !r.Ready || len(r.Teams) != 2 {
			t.Fatalf("exit %d, report %+v", code, r)
		}
		for _, team := range r.Teams {
			for _, n := range team.Nodes {
				if !n.Reachable || n.Status != "Ready" || n.Availability != "Active" || (n.Role == "manager") != (n.ManagerStatus == "Leader") {
					t.Errorf("team %s node %+v", team.Team, n)
				}
			}
			if len(team.Day2) == 0 {
				t.Errorf("team %s: no day2 services", team.Team)
			}
			for _, s := range team.Day2 {
				if s.Running != s.Desired || s.Desired == 0 {
					t.Errorf("team %s: %+v", team.Team, s)
				}
			}
		}
		if s := r.Teams[0].Students; len(s) != 1 || s[0] != (status.Service{Name: "web-service", Image: "improved-app:latest", Mode: "replicated", Running: 2, Desired: 2}) {
			t.Errorf("team1's own services: %+v", s)
		}
	})

	// Phase 3 as the class takes it: a student measures the swarm (the day2 stack's
	// improved-app) and a single memory-leak-app container with labprobe, each run is kept on
	// its node, and `make results` gathers both into the comparison.
	t.Run("phase 3 runs collected", func(t *testing.T) {
		probe := "labprobe -url http://localhost:%d/health -interval 100ms -duration 2s -quiet"
		c.run("team1-m1", fmt.Sprintf(probe, c.plan.Day2.Port))
		c.run("team1-w1", "docker run -d --name vulnerable-app -p 8080:3000 memory-leak-app:latest >/dev/null && "+
			"for i in $(seq 50); do curl -fs -o /dev/null http://localhost:8080/health && break; sleep 0.2; done && "+
			fmt.Sprintf(probe, 8080)+"; docker rm -f vulnerable-app >/dev/null")
		dir := t.TempDir()
		out, stderr, code := runStatus(t, bin, c.plan.Cohort, outputs, "-results", dir)
		t.Logf("make results:\n%s", out)
		if code != 0 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		for _, want := range []string{"Phase 3 of cohort " + c.plan.Cohort + ": 2 labprobe runs", "team1  single container  team1-w1", "team1  swarm             team1-m1",
			"single container  1     1      100.0% / 100.0% / 100.0%", "swarm             1     1      100.0% / 100.0% / 100.0%"} {
			if !strings.Contains(out, want) {
				t.Errorf("results lack %q", want)
			}
		}
		csv, err := os.ReadFile(filepath.Join(dir, "results.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 3 {
			t.Errorf("results.csv:\n%s", csv)
		}
		page, err := os.ReadFile(filepath.Join(dir, "results.html"))
		if err != nil || !strings.Contains(string(page), "<h2>swarm: 1 runs by 1 teams</h2>") {
			t.Errorf("results.html: %v\n%s", err, page)
		}
	})

	// The instructor's page in a browser: every team appears, ready, team1's phases 1, 2 and
	// 3 show as seen from the evidence the test produced on its nodes, and a node stopped now
	// turns its team's row red within a check or two (the page checks every second here).
	t.Run("dashboard in a browser", func(t *testing.T) {
		chrome := headless.Require(t, "load the dashboard")
		// team1 goes through phases 1 and 2 as the course writes them: a memory-leak-app
		// container OOM-killed; its web-service at 3 replicas, one task killed and replaced,
		// scaled to 6 and back to 2.
		c.run("team1-w1", "docker run -d --name oom-app --memory=64m -e LEAK_FILL_REQUESTS=200 -p 8081:3000 memory-leak-app:latest >/dev/null && "+
			"for i in $(seq 50); do curl -fs -o /dev/null http://localhost:8081/health && break; sleep 0.2; done; "+
			"for i in $(seq 400); do curl -fs -o /dev/null http://localhost:8081/ || break; done; "+
			"for i in $(seq 50); do [ \"$(docker inspect -f '{{.State.OOMKilled}}' oom-app)\" = true ] && exit 0; sleep 0.2; done; "+
			"echo 'oom-app was not OOM-killed 10 s after 400 requests' >&2; exit 1")
		c.run("team1-m1", "docker service scale --detach=false web-service=3 >/dev/null 2>&1")
		node := strings.TrimSpace(c.run("team1-m1", "docker service ps web-service --filter desired-state=running --format '{{.Node}}' | head -n 1"))
		c.run(node, "docker kill $(docker ps -q --filter label=com.docker.swarm.service.name=web-service | head -n 1) >/dev/null")
		c.run("team1-m1", "healed=; for i in $(seq 120); do [ \"$(docker service ls --filter name=web-service --format '{{.Replicas}}')\" = 3/3 ] && "+
			"docker service ps web-service --format '{{.Error}}' | grep -q 'exit (137)' && healed=1 && break; sleep 0.5; done; "+
			"[ -n \"$healed\" ] || { echo 'web-service was not 3/3 with a task ended by exit 137 within 60 s' >&2; exit 1; }; "+
			"docker service scale --detach=false web-service=6 >/dev/null 2>&1 && docker service scale --detach=false web-service=2 >/dev/null 2>&1")
		url := startDashboard(t, bin, c.plan.Cohort, outputs, "-refresh", "1s")
		// The page's own polls run on virtual time: a load lasts well under 3 s of real time.
		dom := func() string {
			return string(headless.Run(t, chrome, url, 1400, 700, "--dump-dom", "--virtual-time-budget=3000"))
		}
		page := dom()
		for _, team := range c.plan.Teams {
			if !strings.Contains(page, `data-team="`+team.Name+`" data-ready="true"`) {
				t.Errorf("the page does not show %s ready:\n%s", team.Name, headless.Tail(page, 3000))
			}
		}
		for _, phase := range []string{"phase1", "phase2", "phase3"} {
			if !strings.Contains(page, `data-`+phase+`="seen"`) {
				t.Errorf("the page does not show team1's %s as seen:\n%s", phase, headless.Tail(page, 3000))
			}
		}
		stopped := c.plan.Teams[1].Nodes[2]
		if _, err := docker(context.Background(), "stop", "-t", "1", stopped.ContainerName); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for !strings.Contains(page, `data-node="`+stopped.Name+`" data-state="bad"`) || !strings.Contains(page, `data-team="`+c.plan.Teams[1].Name+`" data-ready="false"`) {
			if time.Since(start) > time.Minute {
				t.Fatalf("a minute after %s stopped, the page still does not show it down:\n%s", stopped.Name, headless.Tail(page, 3000))
			}
			page = dom()
		}
		t.Logf("MEASURE dashboard: a stopped node shown red %s after it stopped (checks every 1 s; the page reloaded in headless Chromium until it did)", time.Since(start).Round(100*time.Millisecond))
		if !strings.Contains(page, `data-team="`+c.plan.Teams[0].Name+`" data-ready="true"`) {
			t.Errorf("the other team is no longer shown ready")
		}
		if *writeDocsDashboard {
			headless.Run(t, chrome, url, 1400, 520, "--screenshot="+filepath.Join(repoRoot(), "docs", "dashboard.png"), "--hide-scrollbars", "--virtual-time-budget=3000")
		}
	})

	t.Run("a scaled-down lab service and a stopped node", func(t *testing.T) {
		c.run("team1-m1", "docker service scale --detach day2_web=0 >/dev/null")
		stopped := c.plan.Teams[1].Nodes[2]
		if _, err := docker(context.Background(), "stop", "-t", "1", stopped.ContainerName); err != nil {
			t.Fatal(err)
		}
		table, stderr, code := runStatus(t, bin, c.plan.Cohort, outputs)
		t.Logf("status:\n%s", table)
		if code != 1 {
			t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr)
		}
		for _, want := range []string{
			"2 of 2 teams not ready: team1, team2",
			"team1 is not ready:\n  day2_web: scaled to 0 (pulumi up restores it)\n",
			"team2 is not ready:\n  " + stopped.Name + ": unreachable: ssh ",
		} {
			if !strings.Contains(table, want) {
				t.Errorf("table lacks %q", want)
			}
		}
		out, stderr, _ := runStatus(t, bin, c.plan.Cohort, outputs, "-json")
		if !strings.Contains(stderr, "2 of 2 teams not ready: team1, team2") {
			t.Errorf("-json: stderr does not name both teams: %q", stderr)
		}
		r := readReport(t, out)
		team1, team2 := r.Teams[0], r.Teams[1]
		// team2's day2 tasks on the stopped node may or may not be missed yet: only the
		// node is sure to be named.
		if r.Ready || team1.Ready || team2.Ready || len(team1.Problems) != 1 || !strings.HasPrefix(team2.Problems[0], stopped.Name+": unreachable") {
			t.Errorf("problems: team1 %q, team2 %q", team1.Problems, team2.Problems)
		}
		if n := team2.Nodes[2]; n.Name != stopped.Name || n.Reachable {
			t.Errorf("stopped node: %+v", n)
		}
		if n := team2.Nodes[0]; !n.Reachable || n.Status != "Ready" {
			t.Errorf("team2's other nodes are still checked: %+v", n)
		}
	})
}
