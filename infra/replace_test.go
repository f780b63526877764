package infra

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/nodecontainer"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// running is what the local host holds after p ran: its teams' networks and node
// containers with the settings they were created with.
func running(t *testing.T, p *plan.Plan) map[string]plan.HostFacts {
	t.Helper()
	keys, err := sshkeys.New(testSeed, p.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	f := plan.HostFacts{}
	for _, team := range p.Teams {
		f.Networks = append(f.Networks, plan.HostNetwork{Name: team.NetworkName, Cohort: p.Cohort, Team: team.Name, Subnets: []netip.Prefix{team.Subnet}})
		for _, n := range team.Nodes {
			f.Nodes = append(f.Nodes, plan.HostNode{Container: n.ContainerName, Cohort: p.Cohort, Team: team.Name, Node: n.Name, IP: n.IP, SSHPort: n.SSHPort,
				Settings: nodecontainer.For(p, team, n, "", keys).Settings()})
		}
	}
	return map[string]plan.HostFacts{plan.LocalHost: f}
}

// Which edits of a running cohort's config replace node containers, and which do not: a
// replaced container restarts the node, so an instructor must know before the run.
func TestWhichConfigChangesReplaceANode(t *testing.T) {
	all := "team1-m1 team1-w1 team1-w2 team2-m1 team2-w1 team2-w2"
	cases := []struct {
		name     string
		edit     func(*plan.Config)
		replaced string
	}{
		{"nothing", func(*plan.Config) {}, ""},
		{"three managers instead of one", func(c *plan.Config) { c.Managers = 3 }, ""},
		{"a worker more", func(c *plan.Config) { c.Workers = 3 }, ""},
		{"a worker fewer", func(c *plan.Config) { c.Workers = 1 }, ""},
		{"a team more", func(c *plan.Config) { c.Teams = 3 }, ""},
		{"the first team removed", func(c *plan.Config) { c.Teams, c.TeamNames = 1, []string{"team2"} }, ""},
		{"more memory per node (changed in place)", func(c *plan.Config) { c.NodeMemory = "2g" }, ""},
		{"day 3 (with the memory it needs)", func(c *plan.Config) { c.Day, c.NodeMemory = 3, "3g" }, ""},
		{"the Day-2 stack off", func(c *plan.Config) { c.Day2Stack = false }, ""},
		{"another node image (ignored: nodes keep theirs)", func(c *plan.Config) { c.NodeImage = "myorg/node:2" }, ""},
		{"the routing mesh", func(c *plan.Config) { c.RoutingMesh = "host" }, ""},
		{"fewer CPUs per node", func(c *plan.Config) { c.NodeCPUs = "0.5" }, all},
		{"another SSH port base", func(c *plan.Config) { c.SSHPortBase = 2300 }, all},
		{"another address pool", func(c *plan.Config) { c.AddressPool = "172.29.0.0/16" }, all},
		{"SSH on every address", func(c *plan.Config) { c.SSHAddress, c.PublicHost = "0.0.0.0", "lab.example.org" }, all},
		{"privileged nodes", func(c *plan.Config) { c.Privilege = "privileged" }, all},
		{"VM nodes", func(c *plan.Config) { c.NodeKind = "vm" }, all},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := plan.Defaults("spring")
			before, err := plan.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			facts := running(t, before)
			c.edit(&cfg)
			cfg.Slots = plan.ExistingSlots(before, facts)
			after, err := plan.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := sshkeys.New(testSeed, after.Cohort)
			var got []string
			for _, r := range Replacements(after, keys, facts) {
				got = append(got, r.Node)
			}
			if strings.Join(got, " ") != c.replaced {
				t.Errorf("replaced %q, want %q", strings.Join(got, " "), c.replaced)
			}
		})
	}
}

// A run that would replace nodes of a running cohort is named in the preview in one
// sentence, refused by `pulumi up` before any resource, and done when asked by name.
func TestReplacingNodesNeedsToBeAskedFor(t *testing.T) {
	before, err := plan.Build(plan.Defaults("spring"))
	if err != nil {
		t.Fatal(err)
	}
	host := fakeHost{facts: running(t, before)[plan.LocalHost]}
	edit := map[string]string{"labfleet:nodeCpus": "0.5"}

	preview := runProgramOn(t, host, &fakeBootstrapper{}, true, edit)
	if preview.err != nil {
		t.Fatal(preview.err)
	}
	i := slices.IndexFunc(preview.logs, func(l logLine) bool {
		return l.warning && strings.HasPrefix(l.msg, "this run would replace 6 node container(s)")
	})
	if i < 0 {
		t.Fatalf("the preview does not say it: %v", preview.logs)
	}
	for _, want := range []string{"team1-w1 (cpus 1000000000 → 500000000)", "the student's home stay", "LABFLEET_REPLACE_NODES=team1-m1,team1-w1,team1-w2,team2-m1,team2-w1,team2-w2 pulumi up"} {
		if !strings.Contains(preview.logs[i].msg, want) {
			t.Errorf("the sentence lacks %q: %s", want, preview.logs[i].msg)
		}
	}

	up := runProgramOn(t, host, &fakeBootstrapper{}, false, edit)
	if up.err == nil || !strings.Contains(up.err.Error(), "this run would replace 6 node container(s)") {
		t.Fatalf("up: err = %v", up.err)
	}
	if n := len(up.m.ofType("docker:index/container:Container")); n != 0 || up.b.calls != 0 {
		t.Errorf("refused, yet %d containers registered and the bootstrap ran %d times", n, up.b.calls)
	}

	// A cohort made before homes had volumes is told that this first move does not keep them.
	old := running(t, before)[plan.LocalHost]
	for i := range old.Nodes {
		delete(old.Nodes[i].Settings, "mount /home/student")
	}
	upgrade := runProgramOn(t, fakeHost{facts: old}, &fakeBootstrapper{}, true, nil)
	if !slices.ContainsFunc(upgrade.logs, func(l logLine) bool {
		return l.warning && strings.Contains(l.msg, "team1-w1 (mount /home/student added (spring-team1-w1-home))") && strings.Contains(l.msg, "what is in it now is NOT kept")
	}) {
		t.Errorf("the upgrade's preview: %v", upgrade.logs)
	}

	t.Setenv(ReplaceEnv, "team1-w1")
	if up := runProgramOn(t, host, &fakeBootstrapper{}, false, edit); up.err == nil {
		t.Error("naming one node allowed replacing all six")
	}
	t.Setenv(ReplaceEnv, "all")
	if up := runProgramOn(t, host, &fakeBootstrapper{}, false, edit); up.err != nil {
		t.Errorf("asked for: %v", up.err)
	}
}
