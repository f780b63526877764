package hostfacts

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/plan"
)

func TestParseKernelReadsTheKernelScript(t *testing.T) {
	cases := []struct {
		out     string
		want    plan.Kernel
		kvm     bool
		wantErr string
	}{
		{"loaded 524288 512 kvm 000001ffffffffff", plan.Kernel{IPVS: true, InotifyWatches: 524288, InotifyInstances: 512, CapSysResource: true}, true, ""},
		{"module 8192 128 nokvm 000001fffeffffff", plan.Kernel{IPVSModule: true, InotifyWatches: 8192, InotifyInstances: 128}, false, ""},
		{"no 8192 128 nokvm 000001ffffffffff", plan.Kernel{InotifyWatches: 8192, InotifyInstances: 128, CapSysResource: true}, false, ""},
		{"no 8192 128", plan.Kernel{}, false, `unexpected answer "no 8192 128"`},
	}
	for _, c := range cases {
		k, kvm, err := parseKernel(strings.Fields(c.out))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || k != nil || kvm {
				t.Errorf("%q: %v, %v, err %v; want %q", c.out, k, kvm, err, c.wantErr)
			}
			continue
		}
		if err != nil || *k != c.want || kvm != c.kvm {
			t.Errorf("%q: %+v kvm %v err %v; want %+v kvm %v", c.out, k, kvm, err, c.want, c.kvm)
		}
	}
}

func TestLinesSplitsAnAnswerIntoItsNonEmptyLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \n\t\n", nil},
		{"one", []string{"one"}},
		{"one\ntwo\n", []string{"one", "two"}},
		{"\none\ntwo\n\n", []string{"one", "two"}},
		{"a|b|c|\nd|e|f|\n", []string{"a|b|c|", "d|e|f|"}},
	} {
		if got := lines(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("lines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseNetworksReadsSubnetsAndLabfleetsLabels(t *testing.T) {
	prefix := netip.MustParsePrefix
	for _, tc := range []struct {
		name     string
		out      string
		nets     []plan.HostNetwork
		labelled []plan.HostObject
	}{
		{"no networks", "", nil, nil},
		{"Docker's own networks: none is labfleet's",
			"bridge|||172.17.0.0/16 \nhost|||\nnone|||\n",
			[]plan.HostNetwork{{Name: "bridge", Subnets: []netip.Prefix{prefix("172.17.0.0/16")}}, {Name: "host"}, {Name: "none"}}, nil},
		{"a team network, dual stack: the IPv6 subnet is not one",
			"spring-team1|spring|team1|172.30.0.0/24 fd00:30::/64 \n",
			[]plan.HostNetwork{{Name: "spring-team1", Cohort: "spring", Team: "team1", Subnets: []netip.Prefix{prefix("172.30.0.0/24")}}},
			[]plan.HostObject{{Cohort: "spring", Team: "team1"}}},
		{"two subnets, and a cohort-wide network without a team",
			"mine|||10.1.0.0/16 10.2.0.0/16 \nspring-shared|spring||\n",
			[]plan.HostNetwork{{Name: "mine", Subnets: []netip.Prefix{prefix("10.1.0.0/16"), prefix("10.2.0.0/16")}}, {Name: "spring-shared", Cohort: "spring"}},
			[]plan.HostObject{{Cohort: "spring"}}},
		{"a line that is not the format's, and a subnet that does not parse",
			"garbage\nodd|||not-a-subnet 192.168.5.0/24 \n",
			[]plan.HostNetwork{{Name: "odd", Subnets: []netip.Prefix{prefix("192.168.5.0/24")}}}, nil},
	} {
		nets, labelled := parseNetworks(tc.out)
		if !reflect.DeepEqual(nets, tc.nets) || !slices.Equal(labelled, tc.labelled) {
			t.Errorf("%s:\nnets %+v\nwant %+v\nlabelled %+v, want %+v", tc.name, nets, tc.nets, labelled, tc.labelled)
		}
	}
}

func TestParsePortsReadsIPv4PublishedPortsAndLabfleetsLabels(t *testing.T) {
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name     string
		out      string
		ports    []plan.HostPort
		labelled []plan.HostObject
	}{
		{"no containers", "", nil, nil},
		{"a node container published on IPv4 and IPv6: one port",
			"spring-team1-m1|spring|team1|127.0.0.1:2200->22/tcp, :::2200->22/tcp\n",
			[]plan.HostPort{{Container: "spring-team1-m1", Cohort: "spring", IP: addr("127.0.0.1"), Port: 2200}},
			[]plan.HostObject{{Cohort: "spring", Team: "team1"}}},
		{"every address, and a range of one container",
			"web|||0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 0.0.0.0:8443->443/tcp\n",
			[]plan.HostPort{{Container: "web", IP: addr("0.0.0.0"), Port: 8080}, {Container: "web", IP: addr("0.0.0.0"), Port: 8443}}, nil},
		{"a stopped labfleet container publishes nothing but is labfleet's",
			"spring-team2-w1|spring|team2|\n",
			nil, []plan.HostObject{{Cohort: "spring", Team: "team2"}}},
		{"exposed, not published, ports are not the host's",
			"db|||5432/tcp\n", nil, nil},
		{"a line that is not the format's is skipped",
			"garbage\nweb|||127.0.0.1:80->80/tcp\n",
			[]plan.HostPort{{Container: "web", IP: addr("127.0.0.1"), Port: 80}}, nil},
	} {
		ports, labelled := parsePorts(tc.out)
		if !slices.Equal(ports, tc.ports) || !slices.Equal(labelled, tc.labelled) {
			t.Errorf("%s:\nports %+v\nwant %+v\nlabelled %+v, want %+v", tc.name, ports, tc.ports, labelled, tc.labelled)
		}
	}
}

func TestParseHostNodesReadsNodeContainersAsCreated(t *testing.T) {
	node := `{"Name":"/spring-team1-w1",
	  "Config":{"Hostname":"team1-w1","Env":["PATH=/usr/bin"],
	    "Labels":{"labfleet.cohort":"spring","labfleet.team":"team1","labfleet.node":"team1-w1"}},
	  "HostConfig":{"NanoCpus":500000000,"PortBindings":{"22/tcp":[{"HostIp":"127.0.0.1","HostPort":"2201"}]}},
	  "NetworkSettings":{"Networks":{"spring-team1":{"IPAMConfig":{"IPv4Address":"172.30.0.11"}}}}}`
	// Created without a published port or a fixed address (by hand, or an older labfleet).
	bare := `{"Name":"/spring-team2-m1","Config":{"Hostname":"team2-m1","Labels":{"labfleet.cohort":"spring","labfleet.team":"team2","labfleet.node":"team2-m1"}},
	  "HostConfig":{},"NetworkSettings":{"Networks":{"bridge":{}}}}`
	got, err := parseHostNodes([]byte("[" + node + "," + bare + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d nodes: %+v", len(got), got)
	}
	w1, m1 := got[0], got[1]
	if w1.Container != "spring-team1-w1" || w1.Cohort != "spring" || w1.Team != "team1" || w1.Node != "team1-w1" ||
		w1.IP != netip.MustParseAddr("172.30.0.11") || w1.SSHPort != 2201 {
		t.Errorf("w1 = %+v", w1)
	}
	if w1.Settings["cpus"] != "500000000" || w1.Settings["network"] != "spring-team1" || w1.Settings["publish"] != "127.0.0.1:2201" {
		t.Errorf("w1's settings %v", w1.Settings)
	}
	if m1.Container != "spring-team2-m1" || m1.Node != "team2-m1" || m1.IP.IsValid() || m1.SSHPort != 0 {
		t.Errorf("m1 = %+v, want no address and no SSH port", m1)
	}
	if got, err := parseHostNodes([]byte("[]")); err != nil || len(got) != 0 {
		t.Errorf("no containers: %+v %v", got, err)
	}
	for _, bad := range []string{"", "not json", `{"Name":"/x"}`, `[{"Config":"not an object"}]`} {
		if got, err := parseHostNodes([]byte(bad)); err == nil {
			t.Errorf("%q: read as %+v, want an error", bad, got)
		}
	}
}
