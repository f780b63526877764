package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/plan"
)

// A config edit on a running cohort as `pulumi up` plans it: the slots of the nodes that
// exist are read back from the real engine, so raising managers from 1 to 3 adds two
// managers beside the workers, which keep their containers, addresses, ports and the
// student's files; every existing container reads back with the settings its spec gives
// (nothing to replace); and a replaced container gets the student's home back.
func TestRaisingManagersKeepsEveryNode(t *testing.T) {
	requireDocker(t)
	ctx := context.Background()
	cfg := testConfig("lfit-ed", 25000, "10.66.0.0/16")
	cfg.Teams = 1
	c := newCohort(t, cfg)
	if _, err, _ := converge(t, c, bootstrap.Options{}); err != nil {
		t.Fatal(err)
	}
	c.run("team1-w1", "echo 'my notes' > ~/notes.txt")
	containerIDs := func() map[string]string {
		ids := map[string]string{}
		for _, n := range c.Plan.Teams[0].Nodes {
			out, err := docker(ctx, "inspect", "--format", "{{.Id}}", n.ContainerName)
			if err != nil {
				t.Fatal(err)
			}
			ids[n.Name] = strings.TrimSpace(out)
		}
		return ids
	}
	before, was := containerIDs(), c.plan.Teams[0]

	facts, err := hostfacts.Local(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]plan.HostFacts{plan.LocalHost: facts}
	cfg.Managers = 3
	cfg.Slots = plan.ExistingSlots(c.plan, hosts)
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckHosts(hosts); err != nil {
		t.Fatal(err)
	}
	// Read back from the engine, every existing container has the settings its spec gives.
	if r := infra.Replacements(p, c.keys, hosts); len(r) > 0 {
		t.Fatalf("raising managers would replace %+v", r)
	}
	for _, n := range was.Nodes {
		now, _ := p.Teams[0].Node(n.Name)
		if now.IP != n.IP || now.SSHPort != n.SSHPort {
			t.Errorf("%s moved from %s:%d to %s:%d", n.Name, n.IP, n.SSHPort, now.IP, now.SSHPort)
		}
	}
	c.plan, c.Plan = p, p
	for _, name := range []string{"team1-m2", "team1-m3"} {
		if err := c.StartNode(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	res, err, _ := converge(t, c, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertSwarm(t, c, p.Teams[0], res["team1"])
	after := containerIDs()
	for name, id := range before {
		if after[name] != id {
			t.Errorf("%s's container was replaced", name)
		}
	}
	if got := c.run("team1-w1", "cat ~/notes.txt"); got != "my notes\n" {
		t.Errorf("the student's notes on team1-w1: %q", got)
	}

	t.Run("a replaced node container gets the student's home back", func(t *testing.T) {
		if err := c.ReplaceContainer(ctx, "team1-w1"); err != nil {
			t.Fatal(err)
		}
		if got := c.run("team1-w1", "cat ~/notes.txt; stat -c %U ~/notes.txt"); got != "my notes\nstudent\n" {
			t.Errorf("after the replacement: %q", got)
		}
		res, err, _ := converge(t, c, bootstrap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		assertSwarm(t, c, p.Teams[0], res["team1"])
	})
}
