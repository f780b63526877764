package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
)

// secondEngine starts a Docker engine reached only as ssh://: a labfleet node container (its
// own dockerd and sshd) whose admin login is in the docker group. The test talks to it the
// way pulumi-docker and labfleet do, through the OpenSSH client with pinned host keys, never
// through the local engine's API. It is stopped gracefully, then removed, when the test ends.
func secondEngine(t *testing.T) plan.Engine {
	t.Helper()
	cfg := plan.Defaults("lfit-eng")
	cfg.Teams, cfg.TeamNames, cfg.Workers = 1, []string{"engine"}, 0
	cfg.SSHPortBase, cfg.AddressPool, cfg.NodeMemory, cfg.Day2Stack = 24300, "10.62.0.0/16", "3g", false
	c := newCohort(t, cfg)
	node := c.plan.Teams[0].Nodes[0]
	// Cleanups run last first: a graceful stop before newCohort's removal, because removing
	// a running engine with nested containers leaves their cgroups on this cgroup v1 host.
	t.Cleanup(func() { docker(context.Background(), "stop", "-t", "30", node.ContainerName) })
	keys := c.keys
	dir := t.TempDir()
	key, knownHosts := filepath.Join(dir, "admin.key"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, []byte(keys.Admin().PrivateKeyPEM("labfleet")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knownHosts, []byte(node.IP.String()+" "+keys.Host(node.Name).AuthorizedKey("")), 0o600); err != nil {
		t.Fatal(err)
	}
	e := plan.Engine{
		URL: "ssh://" + plan.AdminUser + "@" + node.IP.String(),
		SSHOpts: []string{"-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + knownHosts,
			"-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"},
	}
	err := steps.Poll(context.Background(), "the second engine over ssh://", time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		_, err := engine.Docker(ctx, e, "info")
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the second engine did not answer over ssh:// in a minute: %v", err)
	}
	return e
}

// copyImages streams images from the local engine into another one (docker save | docker
// load), as a host that pulled or built them would have them; IDs stay the same.
func copyImages(t *testing.T, to plan.Engine, refs ...string) {
	t.Helper()
	start := time.Now()
	save := localnodes.Command(context.Background(), append([]string{"save"}, refs...)...)
	load, err := engine.Command(context.Background(), to, "load", "-q")
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("docker load on %s: %v: %s", to.URL, err, out)
	}
	if err := save.Wait(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("MEASURE copied %s to the second engine over ssh:// in %s\n", strings.Join(refs, ", "), time.Since(start).Round(time.Millisecond))
}

// A cohort spread over the local engine and a second engine reached only as ssh://: each
// team's nodes are created on its host from the same spec, the same bootstrap converges
// both swarms and the Day-2 lab, the handouts point at each team's host, a rerun changes
// nothing, and removing the cohort leaves nothing on either engine.
func TestCohortOverTwoEngines(t *testing.T) {
	requireDocker(t)
	ids := labImages(t)
	big2 := secondEngine(t)
	copyImages(t, big2, nodeImage, labImageRef("memory-leak-app"), labImageRef("improved-app"))

	cfg := testConfig("lfit-2e", 24500, "10.63.0.0/16")
	cfg.Workers, cfg.Day2Stack = 1, true
	cfg.Hosts = []plan.HostConfig{{Name: plan.LocalHost}, {Name: "big2", Docker: big2.URL, SSHOpts: big2.SSHOpts, SSHPortBase: 24600}}
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Teams[0].Host != plan.LocalHost || p.Teams[1].Host != "big2" {
		t.Fatalf("placement: team1 on %s, team2 on %s", p.Teams[0].Host, p.Teams[1].Host)
	}
	facts := hostfacts.DockerHosts{}.Facts(context.Background(), p.Hosts)
	table := p.PreflightTable(facts)
	t.Log("preflight:\n" + table)
	if row := tableRow(table, "big2"); !strings.Contains(row, big2.URL) || !strings.Contains(row, " yes ") || strings.Contains(row, "?") {
		t.Errorf("big2's preflight row is incomplete (its kernel is read over ssh): %q", row)
	}
	if err := p.CheckHosts(facts); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := startCohort(t, p, nodeImage)
	keys := c.keys
	fmt.Printf("MEASURE created 2 teams x 2 nodes over two engines in %s\n", time.Since(start).Round(time.Millisecond))
	if out, _ := engine.Docker(context.Background(), big2, "ps", "--filter", "label=labfleet.cohort=lfit-2e", "--format", "{{.Names}}"); strings.Join(strings.Fields(out), " ") != "lfit-2e-team2-w1 lfit-2e-team2-m1" &&
		strings.Join(strings.Fields(out), " ") != "lfit-2e-team2-m1 lfit-2e-team2-w1" {
		t.Fatalf("the second engine runs %q, want team2's two nodes", out)
	}
	// Where each team lives is read back from the engines' labels: the next run keeps it.
	placed := plan.Placed(p.Cohort, p.Hosts, hostfacts.DockerHosts{}.Facts(context.Background(), p.Hosts))
	if placed["team1"] != plan.LocalHost || placed["team2"] != "big2" {
		t.Errorf("placement read from the engines: %v", placed)
	}

	labIDs := bootstrap.LabImages{plan.LocalHost: ids, "big2": ids}
	start = time.Now()
	first, err := bootstrap.Cohort(context.Background(), p, keys, labIDs, bootstrap.Options{Report: steps.Lines(func(m string) { t.Log(m) })})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("MEASURE bootstrapped both teams (swarm and Day-2 lab) over two engines in %s\n", time.Since(start).Round(time.Millisecond))
	for _, team := range p.Teams {
		r := first[team.Name]
		if r.Swarm.ClusterID == "" || r.Lab == nil || len(r.Lab.AppURLs) != 2 {
			t.Errorf("team %s on %s: %+v", team.Name, team.Host, r)
		}
	}
	if first["team1"].Swarm.ClusterID == first["team2"].Swarm.ClusterID {
		t.Error("two teams share a swarm")
	}

	// A student of team2 reaches its nodes at the second engine's address, as the card says.
	nodes := outputs.NodesFor(p, p.Teams[1], keys)
	engineIP := strings.TrimPrefix(big2.URL, "ssh://labfleet@")
	if !strings.HasPrefix(nodes[0].SSH, engineIP+":2461") || !strings.Contains(nodes[0].SSHCommand, "student@"+engineIP) {
		t.Errorf("team2's handout: %+v", nodes[0])
	}
	if out := c.run("team2-m1", "docker node ls --format '{{.Hostname}} {{.Status}}' | sort"); out != "team2-m1 Ready\nteam2-w1 Ready\n" {
		t.Errorf("team2's swarm, seen by a student: %q", out)
	}
	if out := c.run("team2-m1", "docker service ls --format '{{.Name}} {{.Replicas}}' --filter name=day2_"); !strings.Contains(out, "day2_web 3/3") {
		t.Errorf("team2's day2 stack: %q", out)
	}

	again, err := bootstrap.Cohort(context.Background(), p, keys, labIDs, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range again {
		if len(r.Swarm.Actions)+len(r.Lab.Actions) > 0 || r.Swarm.ClusterID != first[name].Swarm.ClusterID {
			t.Errorf("rerun of %s changed %v %v", name, r.Swarm.Actions, r.Lab.Actions)
		}
	}

	c.Remove(context.Background())
	for _, e := range []plan.Engine{{}, big2} {
		for _, list := range [][]string{{"ps", "-aq"}, {"volume", "ls", "-q"}, {"network", "ls", "-q"}} {
			out, err := engine.Docker(context.Background(), e, append(list, "--filter", "label=labfleet.cohort=lfit-2e")...)
			if err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("left on %q after removal: %s %q %v", e.URL, list[0], out, err)
			}
		}
	}
}

// tableRow is the line of a text table that starts with name.
func tableRow(table, name string) string {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}
