package plan

import (
	"net/netip"
	"strings"
	"testing"
)

func TestBuildDefaultCohort(t *testing.T) {
	p, err := Build(Defaults("dev"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Teams) != 2 {
		t.Fatalf("teams = %d, want 2", len(p.Teams))
	}
	want := []struct {
		name, container, volume, ip string
		role                        Role
		port                        int
	}{
		{"team1-m1", "dev-team1-m1", "dev-team1-m1-docker", "172.30.0.10", Manager, 2200},
		{"team1-w1", "dev-team1-w1", "dev-team1-w1-docker", "172.30.0.11", Worker, 2201},
		{"team1-w2", "dev-team1-w2", "dev-team1-w2-docker", "172.30.0.12", Worker, 2202},
		{"team2-m1", "dev-team2-m1", "dev-team2-m1-docker", "172.30.1.10", Manager, 2210},
		{"team2-w1", "dev-team2-w1", "dev-team2-w1-docker", "172.30.1.11", Worker, 2211},
		{"team2-w2", "dev-team2-w2", "dev-team2-w2-docker", "172.30.1.12", Worker, 2212},
	}
	var got []Node
	for _, tm := range p.Teams {
		got = append(got, tm.Nodes...)
	}
	if len(got) != len(want) {
		t.Fatalf("nodes = %d, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.ContainerName != w.container || g.VolumeName != w.volume ||
			g.IP.String() != w.ip || g.Role != w.role || g.SSHPort != w.port {
			t.Errorf("node %d = %+v, want %+v", i, g, w)
		}
	}
	t2 := p.Teams[1]
	if t2.NetworkName != "dev-team2" || t2.Subnet.String() != "172.30.1.0/24" || t2.Gateway.String() != "172.30.1.1" {
		t.Errorf("team2 network = %s %s %s", t2.NetworkName, t2.Subnet, t2.Gateway)
	}
	if p.Image != (Image{Ref: "dev-node:latest", Build: true}) {
		t.Errorf("image = %+v", p.Image)
	}
	if p.NodeMemoryMB != 1024 || p.NodeCPUs != "1.0" || p.Privilege != PrivilegeReduced {
		t.Errorf("limits = %d MB, %s CPUs, %s", p.NodeMemoryMB, p.NodeCPUs, p.Privilege)
	}
	if p.SSHTarget(got[4]) != "127.0.0.1:2211" {
		t.Errorf("ssh target = %s", p.SSHTarget(got[4]))
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings = %v", p.Warnings)
	}
	if p.Day2 != (Day2{Enabled: true, Mesh: MeshAuto, Port: 8090}) {
		t.Errorf("day2 = %+v", p.Day2)
	}
	if d := p.Day3; d.Prepare || d.Clusters || d.ControlPlanes != 1 || d.Workers != 2 || d.NodeImage != "labfleet/kind-node:v1.37.2" || d.APIPort != 6443 {
		t.Errorf("day3 = %+v", p.Day3)
	}
	if m := t2.Managers(); len(m) != 1 || m[0].Name != "team2-m1" {
		t.Errorf("managers = %v", m)
	}
	if w := t2.Workers(); len(w) != 2 || w[1].Name != "team2-w2" {
		t.Errorf("workers = %v", w)
	}
}

// Growing one team must not move another team's ports or addresses: those are
// replace-on-change properties of the node containers.
func TestLayoutIsStableWhenATeamGrows(t *testing.T) {
	small, err := Build(Defaults("c"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults("c")
	cfg.Teams = 3
	cfg.Workers = 3
	big, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for ti, tm := range small.Teams {
		for ni, n := range tm.Nodes {
			b := big.Teams[ti].Nodes[ni]
			if b.IP != n.IP || b.SSHPort != n.SSHPort || b.Name != n.Name {
				t.Errorf("%s moved: %s:%d -> %s:%d", n.Name, n.IP, n.SSHPort, b.IP, b.SSHPort)
			}
		}
	}
}

func TestBuildNamedTeamsAndOptions(t *testing.T) {
	cfg := Defaults("spring-26")
	cfg.Teams = 3
	cfg.TeamNames = []string{"red", "green", "blue-2"}
	cfg.Managers = 2
	cfg.Workers = 0
	cfg.NodeMemory = "1.5G"
	cfg.NodeCPUs = "0.50"
	cfg.SSHAddress = "0.0.0.0"
	cfg.PublicHost = "lab.example.org"
	cfg.AddressPool = "10.99.0.0/22"
	cfg.NodeImage = "registry.local/labfleet/node:1.2"
	cfg.Privilege = "privileged"
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Teams[2].Name != "blue-2" || p.Teams[2].Nodes[1].Name != "blue-2-m2" || p.Teams[2].Nodes[1].Role != Manager {
		t.Errorf("team 3 = %+v", p.Teams[2])
	}
	if p.Teams[2].Subnet.String() != "10.99.2.0/24" {
		t.Errorf("subnet = %s", p.Teams[2].Subnet)
	}
	if p.NodeMemoryMB != 1536 || p.NodeCPUs != "0.5" || p.Privilege != PrivilegePrivileged {
		t.Errorf("limits = %d %s %s", p.NodeMemoryMB, p.NodeCPUs, p.Privilege)
	}
	if p.Image != (Image{Ref: "registry.local/labfleet/node:1.2"}) {
		t.Errorf("image = %+v", p.Image)
	}
	// 0.0.0.0 binds every address; students and the bootstrap dial the public host.
	if h := p.Host(p.Teams[0].Host); h.SSHAddress != "0.0.0.0" || h.PublicHost != "lab.example.org" {
		t.Errorf("addresses = %s %s", h.SSHAddress, h.PublicHost)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "labfleet:managers is 2") {
		t.Errorf("warnings = %v", p.Warnings)
	}
	if got := p.SSHTarget(p.Teams[0].Nodes[0]); got != "lab.example.org:2200" {
		t.Errorf("ssh target = %s", got)
	}
}

// The provider reads a container's CPU limit back in its own spelling; any other spelling
// is a perpetual diff (seen for real: "1" planned a replace of every node on each preview).
func TestCPUsAreSpelledAsTheProviderReadsThem(t *testing.T) {
	for in, want := range map[string]string{"1": "1.0", "1.0": "1.0", "0.5": "0.5", ".50": "0.5", "2": "2.0", "1.25": "1.25", "0.125": "0.125", "10": "10."} {
		cfg := Defaults("c")
		cfg.NodeCPUs = in
		p, err := Build(cfg)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if p.NodeCPUs != want {
			t.Errorf("%q -> %q, want %q", in, p.NodeCPUs, want)
		}
	}
}

func TestDay3Switches(t *testing.T) {
	cfg := Defaults("c")
	cfg.Day3Prep = true
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Day3.Prepare || p.Day3.Clusters {
		t.Errorf("prep only: %+v", p.Day3)
	}
	cfg.Day, cfg.Privilege, cfg.NodeMemory = 3, "privileged", "3g"
	p, err = Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Day3.Prepare || !p.Day3.Clusters || p.Day3.KindMemoryMB() != 2048 || len(p.Warnings) != 0 {
		t.Errorf("day 3: %+v, %d MB, warnings %v", p.Day3, p.Day3.KindMemoryMB(), p.Warnings)
	}
	cfg.Privilege = "reduced"
	p, err = Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "CAP_SYS_RESOURCE") {
		t.Errorf("warnings %v", p.Warnings)
	}
}

func TestMemorySizes(t *testing.T) {
	for in, want := range map[string]int{"1g": 1024, "768m": 768, "2GiB": 2048, "1.5g": 1536, "524288k": 512, "268435456": 256, "1 GB": 1024} {
		cfg := Defaults("c")
		cfg.NodeMemory = in
		p, err := Build(cfg)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if p.NodeMemoryMB != want {
			t.Errorf("%q = %d MB, want %d", in, p.NodeMemoryMB, want)
		}
	}
}

// wellFormedDigest is a valid sha256 image digest (64 hex digits), so a reference carrying it
// is refused for having a digest, not for being malformed.
const wellFormedDigest = "sha256:9f1c4d2a7e8b3c5d6f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f506"

func TestInvalidConfigs(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		expect []string // every fragment must appear in the error
	}{
		{"zero teams", func(c *Config) { c.Teams = 0 }, []string{"labfleet:teams", "at least 1", "pulumi config set labfleet:teams"}},
		{"negative teams", func(c *Config) { c.Teams = -3 }, []string{"labfleet:teams", "got -3"}},
		{"too many teams", func(c *Config) { c.Teams = 101 }, []string{"labfleet:teams", "split the cohort"}},
		{"names and count disagree", func(c *Config) { c.TeamNames = []string{"a", "b", "c"} }, []string{"labfleet:teams", "lists 3 names", "set labfleet:teams to 3"}},
		{"duplicate team", func(c *Config) { c.TeamNames = []string{"red", "red"} }, []string{"labfleet:teamNames", `"red" is listed twice`}},
		{"uppercase team", func(c *Config) { c.TeamNames = []string{"Red", "b"} }, []string{"labfleet:teamNames", `"Red" is not a valid team name`, "lowercase"}},
		{"team with space", func(c *Config) { c.TeamNames = []string{"a b", "c"} }, []string{`"a b" is not a valid team name`}},
		{"team starting with digit", func(c *Config) { c.TeamNames = []string{"1a", "b"} }, []string{`"1a" is not a valid team name`}},
		{"team ending with dash", func(c *Config) { c.TeamNames = []string{"a-", "b"} }, []string{`"a-" is not a valid team name`}},
		{"empty team name", func(c *Config) { c.TeamNames = []string{"", "b"} }, []string{`"" is not a valid team name`}},
		{"long team name", func(c *Config) { c.TeamNames = []string{strings.Repeat("a", 21), "b"} }, []string{"not a valid team name", "1-20"}},
		{"zero managers", func(c *Config) { c.Managers = 0 }, []string{"labfleet:managers", "at least 1"}},
		{"negative managers", func(c *Config) { c.Managers = -1 }, []string{"labfleet:managers", "got -1"}},
		{"negative workers", func(c *Config) { c.Workers = -2 }, []string{"labfleet:workers", "cannot be negative"}},
		{"nodes overflow the port block", func(c *Config) { c.Managers = 3; c.Workers = 8 }, []string{"labfleet:workers", "managers+workers is 11", "collide"}},
		{"memory without number", func(c *Config) { c.NodeMemory = "lots" }, []string{"labfleet:nodeMemory", `"lots" is not a memory size`, "1g"}},
		{"memory negative", func(c *Config) { c.NodeMemory = "-1g" }, []string{"labfleet:nodeMemory", "not a memory size"}},
		{"memory zero", func(c *Config) { c.NodeMemory = "0" }, []string{"labfleet:nodeMemory", "below the 256m"}},
		{"memory tiny", func(c *Config) { c.NodeMemory = "64m" }, []string{"labfleet:nodeMemory", "below the 256m"}},
		{"memory bytes by mistake", func(c *Config) { c.NodeMemory = "1024" }, []string{"labfleet:nodeMemory", "below"}},
		{"memory absurd", func(c *Config) { c.NodeMemory = "5t" }, []string{"labfleet:nodeMemory", "terabyte"}},
		{"memory unknown unit", func(c *Config) { c.NodeMemory = "1x" }, []string{"labfleet:nodeMemory", "not a memory size"}},
		{"cpus zero", func(c *Config) { c.NodeCPUs = "0" }, []string{"labfleet:nodeCpus", "positive"}},
		{"cpus words", func(c *Config) { c.NodeCPUs = "two" }, []string{"labfleet:nodeCpus"}},
		{"unknown privilege", func(c *Config) { c.Privilege = "root" }, []string{"labfleet:privilege", `"root" is not a privilege mode`, "privileged", "reduced"}},
		{"empty privilege", func(c *Config) { c.Privilege = "" }, []string{"labfleet:privilege"}},
		{"bad image", func(c *Config) { c.NodeImage = "My Image" }, []string{"labfleet:nodeImage", "not an image reference"}},
		{"bad ssh address", func(c *Config) { c.SSHAddress = "localhost" }, []string{"labfleet:sshAddress", "not an IPv4 address"}},
		{"ipv6 ssh address", func(c *Config) { c.SSHAddress = "::1" }, []string{"labfleet:sshAddress"}},
		{"bad public host", func(c *Config) { c.PublicHost = "http://lab" }, []string{"labfleet:publicHost"}},
		{"pool not a cidr", func(c *Config) { c.AddressPool = "172.30.0.0" }, []string{"labfleet:addressPool", "not an IPv4 CIDR"}},
		{"pool with host bits", func(c *Config) { c.AddressPool = "172.30.0.5/16" }, []string{"labfleet:addressPool", "host bits", "use 172.30.0.0/16"}},
		{"pool smaller than a team", func(c *Config) { c.AddressPool = "172.30.0.0/25" }, []string{"labfleet:addressPool", "smaller than one team subnet"}},
		{"pool too small for teams", func(c *Config) { c.Teams = 3; c.AddressPool = "172.30.0.0/23" }, []string{"labfleet:addressPool", "holds 2 team subnets", "3 teams", "/22"}},
		{"ipv6 pool", func(c *Config) { c.AddressPool = "fd00::/64" }, []string{"labfleet:addressPool"}},
		{"privileged ports", func(c *Config) { c.SSHPortBase = 22 }, []string{"labfleet:sshPortBase", "1024 or above"}},
		{"ports overflow", func(c *Config) { c.Teams = 60; c.SSHPortBase = 65000 }, []string{"labfleet:sshPortBase", "65000-65599", "past 65535"}},
		{"unknown routing mesh", func(c *Config) { c.RoutingMesh = "vip" }, []string{"labfleet:routingMesh", `"vip" is not a routing mode`, "auto", "ingress", "host"}},
		{"app port taken by the course", func(c *Config) { c.AppPort = 8080 }, []string{"labfleet:appPort", "8080 is used on the nodes by the course's Phase 1/2 commands"}},
		{"app port taken by swarm", func(c *Config) { c.AppPort = 2377 }, []string{"labfleet:appPort", "swarm management"}},
		{"app port out of range", func(c *Config) { c.AppPort = 70000 }, []string{"labfleet:appPort", "1024-65535"}},
		{"unknown day", func(c *Config) { c.Day = 4 }, []string{"labfleet:day", "use 2 (swarm) or 3"}},
		{"day 3 without memory", func(c *Config) { c.Day = 3; c.Privilege = "privileged" }, []string{"labfleet:nodeMemory", "too small for day 3", "set labfleet:nodeMemory 2560m"}},
		{"no control plane", func(c *Config) { c.KindControlPlanes = 0 }, []string{"labfleet:kindControlPlanes"}},
		{"too many kind workers", func(c *Config) { c.KindWorkers = 9 }, []string{"labfleet:kindWorkers"}},
		{"kind image by digest", func(c *Config) { c.KindNodeImage = DefaultKindNodeImage + "@" + wellFormedDigest }, []string{"labfleet:kindNodeImage", "without a digest"}},
		{"kind image not a reference", func(c *Config) { c.KindNodeImage = "Kindest/Node" }, []string{"labfleet:kindNodeImage", "not an image reference", DefaultKindNodeImage}},
		{"api port on the app port", func(c *Config) { c.KubeAPIPort = 8090 }, []string{"labfleet:kubeApiPort", "labfleet:appPort"}},
		{"api port on swarm", func(c *Config) { c.KubeAPIPort = 2377 }, []string{"labfleet:kubeApiPort", "swarm management"}},
		{"bad stack name", func(c *Config) { c.Cohort = "Spring_26" }, []string{"stack name", "pulumi stack rename"}},
		{"cpus NaN", func(c *Config) { c.NodeCPUs = "NaN" }, []string{"labfleet:nodeCpus", "not a CPU limit"}},
		{"cpus infinite", func(c *Config) { c.NodeCPUs = "+Inf" }, []string{"labfleet:nodeCpus", "not a CPU limit"}},
		{"cpus below Docker's floor", func(c *Config) { c.NodeCPUs = "0.001" }, []string{"labfleet:nodeCpus", "0.01-256", "no limit at all"}},
		{"cpus absurd", func(c *Config) { c.NodeCPUs = "1000" }, []string{"labfleet:nodeCpus", "0.01-256"}},
		// Without it every card would say 127.0.0.1, which no student's laptop reaches.
		{"every address without a public host", func(c *Config) { c.SSHAddress = "0.0.0.0" }, []string{"labfleet:publicHost: is not set", "labfleet:sshAddress 0.0.0.0", "127.0.0.1 for this machine only"}},
		{"public host with a space", func(c *Config) { c.PublicHost = "lab host" }, []string{"labfleet:publicHost", "not a host name"}},
		{"public host with a newline", func(c *Config) { c.PublicHost = "lab\nProxyCommand x" }, []string{"labfleet:publicHost"}},
		{"public host with a tab", func(c *Config) { c.PublicHost = "lab\tx" }, []string{"labfleet:publicHost"}},
		{"public host like an option", func(c *Config) { c.PublicHost = "-oProxyCommand=x" }, []string{"labfleet:publicHost"}},
		{"pool on loopback", func(c *Config) { c.AddressPool = "127.0.0.0/16" }, []string{"labfleet:addressPool", "not a private range"}},
		{"pool on multicast", func(c *Config) { c.AddressPool = "224.0.0.0/16" }, []string{"labfleet:addressPool", "not a private range"}},
		{"pool on public addresses", func(c *Config) { c.AddressPool = "8.8.0.0/16" }, []string{"labfleet:addressPool", "not a private range"}},
		{"pool wider than a private range", func(c *Config) { c.AddressPool = "172.0.0.0/8" }, []string{"labfleet:addressPool", "not a private range"}},
		{"app port in the ephemeral range", func(c *Config) { c.AppPort = 40000 }, []string{"labfleet:appPort", "ephemeral range"}},
		{"api port in the ephemeral range", func(c *Config) { c.KubeAPIPort = 50000 }, []string{"labfleet:kubeApiPort", "ephemeral range"}},
		{"ssh ports into the ephemeral range", func(c *Config) { c.SSHPortBase = 32700; c.Teams = 10 }, []string{"labfleet:sshPortBase", "ephemeral range"}},
		{"app port on kind's NodePort mapping", func(c *Config) { c.AppPort = 30080 }, []string{"labfleet:appPort", "kind cluster's NodePort"}},
		{"api port on kind's NodePort mapping", func(c *Config) { c.KubeAPIPort = 30443 }, []string{"labfleet:kubeApiPort", "kind cluster's NodePort"}},
		{"reset of an unknown team", func(c *Config) { c.ResetSwarms = map[string]string{"team9": "abcdefghijklmnopqrstuvwxy"} }, []string{"labfleet:resetSwarms", `team "team9"`, "pulumi config rm --path 'labfleet:resetSwarms.team9'"}},
		{"reset without a cluster ID", func(c *Config) { c.ResetSwarms = map[string]string{"team1": "yes"} }, []string{"labfleet:resetSwarms", "not a swarm cluster ID", "clusterId"}},
		{"unknown node kind", func(c *Config) { c.NodeKind = "lxc" }, []string{"labfleet:nodeKind", `"lxc" is not a kind of node`, "dind", "vm"}},
		{"vm memory too small", func(c *Config) { c.NodeKind = "vm"; c.VMMemory = "256m" }, []string{"labfleet:vmMemory", "below the 512m"}},
		{"vm memory not a size", func(c *Config) { c.NodeKind = "vm"; c.VMMemory = "lots" }, []string{"labfleet:vmMemory", "not a memory size"}},
		{"vm cpus zero", func(c *Config) { c.NodeKind = "vm"; c.VMCPUs = 0 }, []string{"labfleet:vmCpus", "1 to 16"}},
		{"unknown acceleration", func(c *Config) { c.NodeKind = "vm"; c.VMAccel = "hvf" }, []string{"labfleet:vmAccel", `"hvf"`, "auto", "kvm", "tcg"}},
		{"day 3 on a small VM", func(c *Config) { c.NodeKind = "vm"; c.Day = 3; c.NodeMemory = "4g" }, []string{"labfleet:vmMemory", "too small for day 3", "set labfleet:vmMemory 2560m"}},
		{"no teams in parallel", func(c *Config) { c.ParallelTeams = 0 }, []string{"labfleet:parallelTeams", "1 to 100"}},
		{"no image streams", func(c *Config) { c.ParallelStreams = 0 }, []string{"labfleet:parallelStreams", "1 to 64"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults("dev")
			tc.edit(&cfg)
			p, err := Build(cfg)
			if err == nil {
				t.Fatalf("Build accepted it: %+v", p)
			}
			for _, frag := range tc.expect {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error lacks %q:\n%v", frag, err)
				}
			}
		})
	}
}

// A config with several problems reports all of them, so the instructor fixes it in one go.
func TestAllProblemsReportedAtOnce(t *testing.T) {
	cfg := Defaults("dev")
	cfg.Teams = 0
	cfg.NodeMemory = "x"
	cfg.Privilege = "y"
	cfg.AddressPool = "z"
	_, err := Build(cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"labfleet:teams", "labfleet:nodeMemory", "labfleet:privilege", "labfleet:addressPool"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error lacks %s:\n%v", key, err)
		}
	}
}

func TestNthAddrCarries(t *testing.T) {
	if got := nthAddr(netip.MustParseAddr("10.0.0.250"), 10); got.String() != "10.0.1.4" {
		t.Errorf("got %s", got)
	}
}

func TestImageTagsMayHaveUppercaseLetters(t *testing.T) {
	for _, ref := range []string{"myorg/labfleet-node:V1.2", "registry.example.org:5000/node:Latest_2", "node", "node@sha256:abcdef"} {
		cfg := Defaults("dev")
		cfg.NodeImage = ref
		if _, err := Build(cfg); err != nil {
			t.Errorf("%s refused: %v", ref, err)
		}
	}
	for _, ref := range []string{"MyOrg/node:1", "node:", "node:-x", "-node"} {
		cfg := Defaults("dev")
		cfg.NodeImage = ref
		if _, err := Build(cfg); err == nil || !strings.Contains(err.Error(), "labfleet:nodeImage") {
			t.Errorf("%s accepted: %v", ref, err)
		}
	}
}

func TestAResetAndTheFanOutAreInThePlan(t *testing.T) {
	cfg := Defaults("dev")
	cfg.ResetSwarms = map[string]string{"team2": "abcdefghijklmnopqrstuvwxy"}
	cfg.ParallelTeams, cfg.ParallelStreams = 8, 3
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.ResetSwarms["team2"] != "abcdefghijklmnopqrstuvwxy" || p.Parallel != (Parallel{Teams: 8, Streams: 3}) {
		t.Errorf("resets %v parallel %+v", p.ResetSwarms, p.Parallel)
	}
}

func TestVMNodesInThePlan(t *testing.T) {
	cfg := Defaults("dev")
	cfg.NodeKind, cfg.VMMemory, cfg.VMCPUs, cfg.VMAccel = "vm", "2g", 2, "tcg"
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.NodeKind != NodeKindVM || p.VM != (VM{MemoryMB: 2048, CPUs: 2, Accel: AccelTCG}) || p.ContainerMemoryMB() != 2048+VMOverheadMB {
		t.Errorf("vm %+v, container %d MB", p.VM, p.ContainerMemoryMB())
	}
	if p.Image != (Image{Ref: "dev-vm:latest", Build: true}) {
		t.Errorf("image %+v", p.Image)
	}
	// The host decides whether /dev/kvm goes in: never with tcg, and kvm without one fails.
	if err := p.CheckHost(HostFacts{KVM: true}); err != nil || p.Hosts[0].KVMDevice {
		t.Errorf("tcg: kvm device %v, %v", p.Hosts[0].KVMDevice, err)
	}
	p.VM.Accel = AccelAuto
	if err := p.CheckHost(HostFacts{KVM: true}); err != nil || !p.Hosts[0].KVMDevice {
		t.Errorf("auto with /dev/kvm: kvm device %v, %v", p.Hosts[0].KVMDevice, err)
	}
	p.VM.Accel = AccelKVM
	if err := p.CheckHost(HostFacts{}); err == nil || !strings.Contains(err.Error(), "labfleet:vmAccel") {
		t.Errorf("kvm without /dev/kvm: %v", err)
	}
}

// Every step's limit scales with the pace of what runs the team's nodes.
func TestPaceFollowsWhatRunsTheNodes(t *testing.T) {
	dind, _ := Build(Defaults("dev"))
	vmCfg := Defaults("dev")
	vmCfg.NodeKind = string(NodeKindVM)
	vm, err := Build(vmCfg)
	if err != nil {
		t.Fatal(err)
	}
	withKVM, _ := Build(vmCfg)
	withKVM.Hosts[0].KVMDevice = true
	machinesCfg := Defaults("dev")
	machinesCfg.Teams, machinesCfg.Managers, machinesCfg.Workers = 1, 1, 0
	machinesCfg.Machines = []MachineConfig{{Address: "10.0.0.11"}}
	machines, err := Build(machinesCfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		p     *Plan
		accel Accel
		want  float64
	}{
		{"dind nodes", dind, "", PaceContainer},
		{"existing machines", machines, "", PaceContainer},
		{"VM nodes on a host without /dev/kvm, before the launcher says", vm, "", PaceTCG},
		{"VM nodes on a host with /dev/kvm, before the launcher says", withKVM, "", PaceKVM},
		{"VM nodes whose launcher chose KVM", withKVM, AccelKVM, PaceKVM},
		{"VM nodes whose launcher fell back to TCG", withKVM, AccelTCG, PaceTCG},
	}
	for _, c := range cases {
		if got := c.p.Pace(c.p.Teams[0], c.accel); got != c.want {
			t.Errorf("%s: pace %v, want %v", c.name, got, c.want)
		}
	}
}
