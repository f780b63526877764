package plan

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func fourMachines(cfg *Config) {
	cfg.Workers = 1
	cfg.Machines = []MachineConfig{
		{Address: "10.0.0.11", User: "admin", HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK11"},
		{Address: "10.0.0.12", Port: 2222},
		{Address: "10.0.0.21", Team: "team2", PublicHost: "vm21.lab"},
		{Address: "10.0.0.22"},
	}
}

func TestTeamsOnMachines(t *testing.T) {
	cfg := Defaults("spring")
	fourMachines(&cfg)
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := p.Teams[0], p.Teams[1]
	if !t1.OnMachines() || t1.NetworkName != "" || t1.Subnet.IsValid() {
		t.Errorf("team1 %+v", t1)
	}
	// team2's own machine first, then the next unassigned one.
	if t2.Nodes[0].IP.String() != "10.0.0.21" || t2.Nodes[1].IP.String() != "10.0.0.22" || t1.Nodes[1].IP.String() != "10.0.0.12" {
		t.Errorf("assignment: %s %s %s", t2.Nodes[0].IP, t2.Nodes[1].IP, t1.Nodes[1].IP)
	}
	if p.SSHTarget(t1.Nodes[1]) != "10.0.0.12:2222" || p.SSHTarget(t2.Nodes[0]) != "vm21.lab:22" || t1.Nodes[0].Machine.User != "admin" || t1.Nodes[1].Machine.User != "root" {
		t.Errorf("targets %s %s, users %s %s", p.SSHTarget(t1.Nodes[1]), p.SSHTarget(t2.Nodes[0]), t1.Nodes[0].Machine.User, t1.Nodes[1].Machine.User)
	}
	if len(p.TeamsOn(LocalHost)) != 0 || len(p.TeamsServedBy(LocalHost)) != 2 {
		t.Error("teams on machines run no container, but their lab images are built locally")
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %v", p.Warnings)
	}
}

// A machine's host key: its entry's wins, then the one the stack pinned at the first contact,
// then the one this run's preflight saw (trusted once, with a warning, and pinned from then).
func TestHostKeysArePinnedFromTheFirstContact(t *testing.T) {
	const entry, pinned, seen = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK11", "ssh-ed25519 AAAApinned", "ssh-ed25519 AAAAseen"
	cfg := Defaults("spring")
	fourMachines(&cfg)
	cfg.PinnedHostKeys = map[string]string{"10.0.0.11:22": pinned, "10.0.0.22:22": pinned}
	cfg.SeenHostKeys = map[string]string{"10.0.0.11:22": seen, "10.0.0.12:2222": seen, "10.0.0.22:22": seen}
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, team := range p.Teams {
		for _, n := range team.Nodes {
			got[n.Machine.Target()] = fmt.Sprintf("%s %v", n.Machine.HostKey, n.Machine.FirstSeen)
		}
	}
	want := map[string]string{
		"10.0.0.11:22":   entry + " false",  // its entry's
		"10.0.0.22:22":   pinned + " false", // the stack's, not what answers now
		"10.0.0.12:2222": seen + " true",    // first contact
		"vm21.lab:22":    " false",          // not reached (yet): no key to pin
	}
	if !maps.Equal(got, want) {
		t.Errorf("host keys %v, want %v", got, want)
	}
	if w := strings.Join(p.Warnings, "\n"); len(p.Warnings) != 1 || !strings.Contains(w, "machine 10.0.0.12:2222 (node team1-w1) has no hostKey: labfleet trusted the key it presented on this first contact ("+seen+") and pins it") {
		t.Errorf("warnings %v", p.Warnings)
	}
	facts := map[string]MachineFacts{"10.0.0.22:22": {Err: "node team2-w1: ssh 10.0.0.22:22: host key mismatch: got SHA256:x, want SHA256:y"}}
	if err := p.CheckMachines(facts); err == nil || !strings.Contains(err.Error(), "10.0.0.22:22 presents another SSH host key than the one pinned for it") ||
		!strings.Contains(err.Error(), "ssh-keyscan -t ed25519 10.0.0.22") {
		t.Errorf("a machine with another key: %v", err)
	}
	if got := SeenHostKeys(map[string]MachineFacts{"a:22": {HostKey: "k"}, "b:22": {Err: "refused"}}); !maps.Equal(got, map[string]string{"a:22": "k"}) {
		t.Errorf("SeenHostKeys = %v", got)
	}
}

func TestBadMachinesAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		expect []string
	}{
		{"too few", func(c *Config) { c.Machines = c.Machines[:3] }, []string{"labfleet:machines", "lists 3 machines, but 2 teams of 2 nodes need 4: list 1 more"}},
		{"with hosts", func(c *Config) { c.Hosts = []HostConfig{{Name: "a"}} }, []string{"labfleet:machines", "cannot be combined with labfleet:hosts"}},
		{"vm kind", func(c *Config) { c.NodeKind = "vm" }, []string{"labfleet:nodeKind", "their own nodes"}},
		{"a name", func(c *Config) { c.Machines[0].Address = "vm1.lab" }, []string{"labfleet:machines[0].address", "not an IPv4 address"}},
		{"twice", func(c *Config) { c.Machines[3].Address, c.Machines[3].Port = "10.0.0.12", 2222 }, []string{"labfleet:machines[3]", "10.0.0.12:2222 is listed twice"}},
		{"bad user", func(c *Config) { c.Machines[1].User = "root; rm" }, []string{"labfleet:machines[1].user"}},
		{"bad host key", func(c *Config) { c.Machines[0].HostKey = "10.0.0.11 ssh-ed25519 AAAA" }, []string{"labfleet:machines[0].hostKey", "ssh-keyscan"}},
		{"unknown team", func(c *Config) { c.Machines[2].Team = "blue" }, []string{"labfleet:machines[2].team", `"blue" is not a team`}},
		{"team full", func(c *Config) {
			c.Machines[0].Team, c.Machines[1].Team, c.Machines[3].Team = "team2", "team2", "team2"
		}, []string{"labfleet:machines[3].team", "team team2 has 2 machines already"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectRefused(t, fourMachines, tc.edit, tc.expect) })
	}
}

func TestMachinePreflight(t *testing.T) {
	cfg := Defaults("spring")
	fourMachines(&cfg)
	cfg.Day = 3
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ok := MachineFacts{OS: "Debian GNU/Linux 13 (trixie)", MemoryMB: 4096, Cgroup: "2", Kernel: &Kernel{IPVS: true, InotifyWatches: 524288, InotifyInstances: 512}}
	facts := map[string]MachineFacts{"10.0.0.11:22": ok, "10.0.0.12:2222": ok, "vm21.lab:22": {Err: "connection refused"}, "10.0.0.22:22": {OS: "Ubuntu 24.04", Docker: "27.5.1", MemoryMB: 1024, Cgroup: "2"}}
	table := p.MachinePreflightTable(facts)
	for _, want := range []string{"NODE", "team1-m1  admin@10.0.0.11:22", "Debian GNU/Linux 13 (trixie)", "(to install)", "4.0g", "v2", "524288/512", "team2-m1  root@vm21.lab:22     NO", "27.5.1"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	err = p.CheckMachines(facts)
	if err == nil || !strings.Contains(err.Error(), "node team2-m1): cannot log in to root@vm21.lab:22: connection refused") {
		t.Errorf("unreachable: %v", err)
	}
	facts["vm21.lab:22"] = MachineFacts{MemoryMB: 1024}
	if err := p.CheckMachines(facts); err == nil || !strings.Contains(err.Error(), "machine vm21.lab:22 (node team2-m1, team team2's first manager) has 1024m") {
		t.Errorf("small first manager on day 3: %v", err)
	}
}
