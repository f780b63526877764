package plan

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func twoHosts(cfg *Config) {
	cfg.Hosts = []HostConfig{
		{Name: "local"},
		{Name: "big2", Docker: "ssh://admin@big2.lab:2222", SSHOpts: []string{"-i", "/k"}, SSHPortBase: 3200, AddressPool: "10.60.0.0/16"},
	}
}

func TestTeamsSpreadOverHostsWithTheirOwnPortsAndSubnets(t *testing.T) {
	cfg := Defaults("spring")
	cfg.Teams = 3
	twoHosts(&cfg)
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"local", "big2", "local"}
	for i, team := range p.Teams {
		if team.Host != want[i] || team.Nodes[0].Host != want[i] {
			t.Errorf("team %s on %s, want %s", team.Name, team.Host, want[i])
		}
	}
	// Team 2 (index 1) on big2: big2's port base and pool, at the team's cohort position.
	if n := p.Teams[1].Nodes[0]; n.SSHPort != 3210 || p.Teams[1].Subnet.String() != "10.60.1.0/24" {
		t.Errorf("team2 on big2: port %d subnet %s", n.SSHPort, p.Teams[1].Subnet)
	}
	if got := p.SSHTarget(p.Teams[1].Nodes[0]); got != "big2.lab:3210" {
		t.Errorf("a remote host's nodes are reached at the engine's host: %s", got)
	}
	if h := p.Host("big2"); h.SSHAddress != "0.0.0.0" {
		t.Errorf("a remote host publishes on every address, got %s", h.SSHAddress)
	}
	if got := p.SSHTarget(p.Teams[2].Nodes[1]); got != "127.0.0.1:2221" {
		t.Errorf("local team3 = %s", got)
	}
	if dest, port := p.Host("big2").Engine.SSHDestination(); dest != "admin@big2.lab" || port != "2222" {
		t.Errorf("ssh destination %s port %s", dest, port)
	}
}

func TestNoCohortWithoutHostsChanges(t *testing.T) {
	// A cohort that never set labfleet:hosts lives on one local host, laid out as before.
	p, err := Build(Defaults("dev"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hosts) != 1 || p.Hosts[0].Name != LocalHost || !p.Hosts[0].Engine.Local() {
		t.Fatalf("hosts = %+v", p.Hosts)
	}
	if n := p.Teams[1].Nodes[2]; n.SSHPort != 2212 || p.Teams[1].Subnet.String() != "172.30.1.0/24" || p.SSHTarget(n) != "127.0.0.1:2212" {
		t.Errorf("layout moved: %d %s %s", n.SSHPort, p.Teams[1].Subnet, p.SSHTarget(n))
	}
}

// TestAddingTeamsAndHostsMovesNoTeam grows a cohort at random, a team or a host at a time,
// feeding each run's placement back as where the teams live (as the program does from the
// hosts' labels), and checks that no team ever moves.
func TestAddingTeamsAndHostsMovesNoTeam(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Defaults("grow")
		cfg.Hosts = []HostConfig{{Name: "h0"}}
		cfg.Teams = 1
		current := map[string]string{}
		for step := range 40 {
			if rng.IntN(4) == 0 && len(cfg.Hosts) < 6 {
				h := HostConfig{Name: fmt.Sprintf("h%d", len(cfg.Hosts))}
				if rng.IntN(2) == 0 {
					h.MaxTeams = 1 + rng.IntN(5)
				}
				cfg.Hosts = append(cfg.Hosts, h)
			} else if cfg.Teams < 30 {
				cfg.Teams++
			}
			cfg.Current = current
			p, err := Build(cfg)
			if err != nil {
				if strings.Contains(err.Error(), "fits on no host") {
					continue // every host is full: refused before anything moves
				}
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			next := map[string]string{}
			for _, team := range p.Teams {
				if was, ok := current[team.Name]; ok && was != team.Host {
					t.Fatalf("seed %d step %d: team %s moved from %s to %s", seed, step, team.Name, was, team.Host)
				}
				next[team.Name] = team.Host
			}
			current = next
		}
	}
}

func TestPlacementIsDeterministicAndRespectsCapacity(t *testing.T) {
	cfg := Defaults("c")
	cfg.Teams = 7
	cfg.Workers = 1 // 2 nodes of 1g: 2048m a team
	cfg.Hosts = []HostConfig{{Name: "a", MaxTeams: 2}, {Name: "b", Memory: "4g"}, {Name: "c"}}
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, team := range p.Teams {
		got = append(got, team.Host)
	}
	// Fewest teams first, first listed on a tie; a and b fill up, c takes the rest.
	if want := "a b c a b c c"; strings.Join(got, " ") != want {
		t.Errorf("placement %q, want %q", strings.Join(got, " "), want)
	}
	again, _ := Build(cfg)
	for i := range p.Teams {
		if again.Teams[i].Host != p.Teams[i].Host {
			t.Fatal("placement is not deterministic")
		}
	}
	// An explicit placement wins, and a team that lives somewhere stays there.
	cfg.TeamHosts = map[string]string{"team7": "a"}
	cfg.Hosts[0].MaxTeams = 3
	cfg.Current = map[string]string{"team1": "c"}
	p, err = Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Teams[6].Host != "a" || p.Teams[0].Host != "c" {
		t.Errorf("team7 on %s (want a), team1 on %s (want c)", p.Teams[6].Host, p.Teams[0].Host)
	}
}

func TestAMoveIsWarnedAbout(t *testing.T) {
	cfg := Defaults("c")
	twoHosts(&cfg)
	cfg.Current = map[string]string{"team1": "local"}
	cfg.TeamHosts = map[string]string{"team1": "big2"}
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "moves team team1 from host local to host big2: its nodes on local are deleted") {
		t.Errorf("warnings = %v", p.Warnings)
	}
}

func TestBadHostsAreRefusedWithTheSettingAndTheFix(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		expect []string
	}{
		{"bad name", func(c *Config) { c.Hosts = []HostConfig{{Name: "Big_2"}} }, []string{"labfleet:hosts[0].name", "not a host name"}},
		{"twice", func(c *Config) { c.Hosts = []HostConfig{{Name: "a"}, {Name: "a", Docker: "ssh://x"}} }, []string{"labfleet:hosts[1].name", "listed twice"}},
		{"plain tcp", func(c *Config) { c.Hosts = []HostConfig{{Name: "a", Docker: "tcp://big:2375"}} },
			[]string{"labfleet:hosts[0].tls", "needs TLS client material", "--secret", "plain TCP"}},
		{"unknown scheme", func(c *Config) { c.Hosts = []HostConfig{{Name: "a", Docker: "http://big"}} }, []string{"labfleet:hosts[0].docker", "ssh://user@host"}},
		{"ssh opts on tcp", func(c *Config) {
			c.Hosts = []HostConfig{{Name: "a", Docker: "tcp://big:2376", SSHOpts: []string{"-i", "k"}, TLS: &TLS{CA: "c", Cert: "c", Key: "k"}}}
		}, []string{"labfleet:hosts[0].sshOpts", "ssh:// engines only"}},
		{"host option in the url", func(c *Config) { c.Hosts = []HostConfig{{Name: "a", Docker: "ssh://-oProxyCommand=x"}} }, []string{"labfleet:hosts[0].docker"}},
		{"own pool too small", func(c *Config) { c.Teams = 3; c.Hosts = []HostConfig{{Name: "a", AddressPool: "10.1.0.0/23"}} },
			[]string{"labfleet:hosts[0].addressPool", "holds 2 team subnets"}},
		{"own every-address binding without a public host", func(c *Config) { c.Hosts = []HostConfig{{Name: "a"}, {Name: "b", SSHAddress: "0.0.0.0"}} },
			[]string{"labfleet:hosts[1].publicHost: is not set", "labfleet:hosts[1].sshAddress 0.0.0.0"}},
		{"own port base", func(c *Config) { c.Hosts = []HostConfig{{Name: "a", SSHPortBase: 80}} }, []string{"labfleet:hosts[0].sshPortBase", "1024 or above"}},
		{"team on an unknown host", func(c *Config) { c.TeamHosts = map[string]string{"team1": "nowhere"} },
			[]string{"labfleet:teamHosts", `host "nowhere"`, "hosts: local"}},
		{"unknown team", func(c *Config) { c.TeamHosts = map[string]string{"team9": "local"} }, []string{"labfleet:teamHosts", `team "team9"`}},
		{"too many teams", func(c *Config) {
			c.Teams = 3
			c.Hosts = []HostConfig{{Name: "a", MaxTeams: 1}, {Name: "b", Memory: "3g"}}
		},
			[]string{"labfleet:hosts", "team team3 fits on no host", "a holds 1 of maxTeams 1", "b holds 1, 3072m of memory 3072m", "3072m of node memory"}},
		{"pinned over capacity", func(c *Config) {
			c.Teams = 2
			c.Hosts = []HostConfig{{Name: "a", Memory: "4g"}, {Name: "b"}}
			c.TeamHosts = map[string]string{"team1": "a", "team2": "a"}
		}, []string{"labfleet:hosts[0].memory", "host a holds 2 teams that need 6144m", "declares 4096m: 2048m missing"}},
		{"a team on a host no longer listed", func(c *Config) { c.Current = map[string]string{"team2": "gone"} },
			[]string{"labfleet:hosts", `team team2 lives on host "gone"`, "list it again", "teamHosts.team2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectRefused(t, nil, tc.edit, tc.expect) })
	}
}

// expectRefused builds the default cohort changed by base (may be nil), then by edit, and
// checks that the plan is refused with every fragment in its error.
func expectRefused(t *testing.T, base, edit func(*Config), expect []string) {
	t.Helper()
	cfg := Defaults("dev")
	if base != nil {
		base(&cfg)
	}
	edit(&cfg)
	_, err := Build(cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, frag := range expect {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q:\n%v", frag, err)
		}
	}
}

func TestEachHostIsCheckedForItsOwnTeams(t *testing.T) {
	cfg := Defaults("spring")
	twoHosts(&cfg)
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	busy := HostFacts{MemoryMB: 2048, Published: []HostPort{{Container: "gitlab", IP: netip.MustParseAddr("0.0.0.0"), Port: 3211}},
		Kernel: &Kernel{}}
	err = p.CheckHosts(map[string]HostFacts{"local": {}, "big2": busy})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, frag := range []string{
		"labfleet:hosts[1].sshPortBase: port 3211 (node team2-w1) is already published",
		"labfleet:hosts[1]: host big2 has 2048m of memory, but its 1 teams' nodes may use 3072m: 1024m missing",
	} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q:\n%v", frag, err)
		}
	}
	if strings.Contains(err.Error(), "team1") {
		t.Errorf("team1 lives on local, which is fine:\n%v", err)
	}
	// An unreachable engine that holds teams stops the run; one that holds none does not.
	err = p.CheckHosts(map[string]HostFacts{"big2": {Err: "ssh: connect to host big2.lab port 2222: Connection refused"}})
	if err == nil || !strings.Contains(err.Error(), "host big2: cannot reach its Docker engine (ssh://admin@big2.lab:2222): ssh: connect") {
		t.Errorf("unreachable: %v", err)
	}
	cfg.Teams = 1
	p, _ = Build(cfg)
	if err := p.CheckHosts(map[string]HostFacts{"big2": {Err: "down"}}); err != nil {
		t.Errorf("an empty host that is down: %v", err)
	}
	// The routing mesh asked for where the kernel has no IPVS.
	cfg.RoutingMesh = "ingress"
	p, _ = Build(cfg)
	if err := p.CheckHosts(map[string]HostFacts{"local": {Kernel: &Kernel{}}}); err == nil || !strings.Contains(err.Error(), "kernel of host local has no IPVS") {
		t.Errorf("ingress without ipvs: %v", err)
	}
}

func TestPlacedReadsTheCohortsTeamsFromTheHosts(t *testing.T) {
	facts := map[string]HostFacts{
		"a": {Labelled: []HostObject{{Cohort: "spring", Team: "team1"}, {Cohort: "autumn", Team: "team2"}}},
		"b": {Labelled: []HostObject{{Cohort: "spring", Team: "team2"}, {Cohort: "spring"}}},
	}
	got := Placed("spring", []Host{{Name: "a"}, {Name: "b"}}, facts)
	if len(got) != 2 || got["team1"] != "a" || got["team2"] != "b" {
		t.Errorf("placed = %v", got)
	}
}

func TestCapabilityDropFollowsTheHostsEngine(t *testing.T) {
	cfg := Defaults("c")
	twoHosts(&cfg)
	for _, tc := range []struct {
		version string
		hasCap  bool
		drop    bool
	}{{"20.10.24+dfsg1", false, true}, {"26.1.5", false, false}, {"26.1.5", true, true}} {
		p, _ := Build(cfg)
		if err := p.CheckHosts(map[string]HostFacts{"big2": {Version: tc.version, Kernel: &Kernel{CapSysResource: tc.hasCap}}}); err != nil {
			t.Fatal(err)
		}
		if got := !p.Host("big2").NoCapDrop; got != tc.drop {
			t.Errorf("docker %s, bounding set has CAP_SYS_RESOURCE %v: drop %v, want %v", tc.version, tc.hasCap, got, tc.drop)
		}
	}
}
