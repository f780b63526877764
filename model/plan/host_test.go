package plan

import (
	"net/netip"
	"strings"
	"testing"
)

func hostWith(networks []HostNetwork, ports []HostPort) HostFacts {
	return HostFacts{
		CPUs:      2,
		Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.5")},
		Networks:  append([]HostNetwork{{Name: "bridge", Subnets: []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16")}}}, networks...),
		Published: ports,
	}
}

func TestAPlanThatFitsTheHostPasses(t *testing.T) {
	p, _ := Build(Defaults("dev"))
	// Its own networks and ports (a re-run) are never in the way.
	own := hostWith([]HostNetwork{{Name: "dev-team1", Cohort: "dev", Subnets: []netip.Prefix{netip.MustParsePrefix("172.30.0.0/24")}}},
		[]HostPort{{Container: "dev-team1-m1", Cohort: "dev", IP: netip.MustParseAddr("127.0.0.1"), Port: 2200}})
	if err := p.CheckHost(own); err != nil {
		t.Fatal(err)
	}
}

func TestHostCollisionsAreRefusedWithTheSettingAndTheFix(t *testing.T) {
	spring := []HostNetwork{{Name: "spring-team1", Cohort: "spring", Subnets: []netip.Prefix{netip.MustParsePrefix("172.30.0.0/24")}}}
	springPorts := []HostPort{{Container: "spring-team1-m1", Cohort: "spring", IP: netip.MustParseAddr("127.0.0.1"), Port: 2200}}
	cases := []struct {
		name   string
		edit   func(*Config)
		host   HostFacts
		expect []string
	}{
		{"a second cohort with the default pool", nil, hostWith(spring, nil),
			[]string{"labfleet:addressPool", "team1's subnet 172.30.0.0/24 overlaps network \"spring-team1\" of cohort \"spring\"", "e.g. 172.31.0.0/16"}},
		{"a second cohort with the default ports", func(c *Config) { c.AddressPool = "172.29.0.0/16" }, hostWith(nil, springPorts),
			[]string{"labfleet:sshPortBase", "port 2200 (node team1-m1) is already published", "cohort \"spring\"", "use labfleet:sshPortBase 2300"}},
		{"a port held by something else on every address", func(c *Config) { c.SSHAddress, c.PublicHost = "0.0.0.0", "lab.example.org" },
			hostWith(nil, []HostPort{{Container: "gitlab", IP: netip.MustParseAddr("0.0.0.0"), Port: 2201}}),
			[]string{"labfleet:sshPortBase", "port 2201 (node team1-w1)", "container gitlab"}},
		{"the pool on docker0", func(c *Config) { c.AddressPool = "172.17.0.0/16" }, hostWith(nil, nil),
			[]string{"labfleet:addressPool", `overlaps network "bridge" (172.17.0.0/16)`}},
		{"more CPUs than the host", func(c *Config) { c.NodeCPUs = "4" }, hostWith(nil, nil),
			[]string{"labfleet:nodeCpus", "4.0 is more than the Docker host's 2 CPUs"}},
		{"an address the host does not have", func(c *Config) { c.SSHAddress = "10.9.8.7" }, hostWith(nil, nil),
			[]string{"labfleet:sshAddress", "10.9.8.7 is not an address of this host", "192.168.1.5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults("dev")
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			p, err := Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = p.CheckHost(tc.host)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, frag := range tc.expect {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error lacks %q:\n%v", frag, err)
				}
			}
		})
	}
}

func TestUnknownHostFactsCheckNothing(t *testing.T) {
	cfg := Defaults("dev")
	cfg.SSHAddress, cfg.NodeCPUs = "10.9.8.7", "64"
	p, _ := Build(cfg)
	if err := p.CheckHost(HostFacts{}); err != nil {
		t.Error(err)
	}
}

// The routing mesh check asks of each kernel what the nodes on it can do: dind nodes share
// the host's kernel but cannot load modules, VM guests run their own, and an existing
// machine's dockerd loads ip_vs itself.
func TestTheRoutingMeshCheckFitsWhereDockerdRuns(t *testing.T) {
	module := &Kernel{IPVSModule: true}
	none := &Kernel{}
	cases := []struct {
		name     string
		nodeKind NodeKind
		kernel   *Kernel
		expect   string // "" passes
	}{
		{"dind nodes, ip_vs loaded on the host", NodeKindDind, &Kernel{IPVS: true}, ""},
		{"dind nodes, ip_vs only a module on the host", NodeKindDind, module, "node containers cannot load it: run `modprobe ip_vs` there"},
		{"dind nodes, no ip_vs", NodeKindDind, none, "has no IPVS"},
		{"VM nodes on a host without ip_vs (their guests have it)", NodeKindVM, none, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults("dev")
			cfg.NodeKind, cfg.RoutingMesh = string(c.nodeKind), string(MeshIngress)
			p, err := Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := hostWith(nil, nil)
			f.Kernel = c.kernel
			err = p.CheckHost(f)
			if c.expect == "" && err != nil || c.expect != "" && (err == nil || !strings.Contains(err.Error(), c.expect)) {
				t.Fatalf("err = %v, want %q", err, c.expect)
			}
		})
	}
	t.Run("an existing machine with ip_vs as a module", func(t *testing.T) {
		cfg := Defaults("dev")
		cfg.Teams, cfg.Managers, cfg.Workers, cfg.RoutingMesh = 1, 1, 0, string(MeshIngress)
		cfg.Machines = []MachineConfig{{Address: "10.0.0.11"}}
		p, err := Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.CheckMachines(map[string]MachineFacts{"10.0.0.11:22": {Kernel: module}}); err != nil {
			t.Fatal(err)
		}
		if err := p.CheckMachines(map[string]MachineFacts{"10.0.0.11:22": {Kernel: none}}); err == nil {
			t.Fatal("a machine without ip_vs passed routingMesh ingress")
		}
	})
}

// A kernel that should be readable but was not is not a kernel without KVM: the run stops
// instead of dropping /dev/kvm from the VM nodes (a replacement on the next run).
func TestAKernelThatCouldNotBeReadStopsTheRun(t *testing.T) {
	cfg := Defaults("dev")
	cfg.NodeKind = string(NodeKindVM)
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := hostWith(nil, nil)
	f.KernelErr = "reading its kernel: signal: killed"
	err = p.CheckHost(f)
	if err == nil || !strings.Contains(err.Error(), "could not read its kernel (reading its kernel: signal: killed)") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if p.Hosts[0].KVMDevice {
		t.Error("an unread kernel gave the VM nodes /dev/kvm")
	}
}
