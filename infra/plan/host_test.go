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
		{"a port held by something else on every address", func(c *Config) { c.SSHAddress = "0.0.0.0" },
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
