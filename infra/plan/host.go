package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// HostFacts is what the Docker host already has, read before anything is created, so that
// a plan that would collide with it (another cohort, Docker's own bridge, a busy port) is
// refused with the setting to change instead of failing half-way through `pulumi up`.
type HostFacts struct {
	CPUs      int          // 0 when unknown
	KVM       bool         // the host has /dev/kvm (it may still be unusable: the launcher probes)
	Addresses []netip.Addr // the host's own addresses; nil when unknown (a remote engine)
	Networks  []HostNetwork
	Published []HostPort
}

// HostNetwork is a Docker network on the host; Cohort is its labfleet.cohort label.
type HostNetwork struct {
	Name    string
	Cohort  string
	Subnets []netip.Prefix
}

// HostPort is a port a container publishes on the host; Cohort is its labfleet.cohort label.
type HostPort struct {
	Container string
	Cohort    string
	IP        netip.Addr // unspecified (0.0.0.0) binds every address
	Port      int
}

// CheckHost refuses a plan that does not fit the host as it is now. The cohort's own
// networks and containers (a re-run) are never in the way. It also decides whether VM
// nodes get the host's /dev/kvm.
func (p *Plan) CheckHost(h HostFacts) error {
	v := &validator{}
	if p.NodeKind == NodeKindVM {
		p.VM.KVMDevice = h.KVM && p.VM.Accel != AccelTCG
		if p.VM.Accel == AccelKVM && !h.KVM {
			v.fail("vmAccel", "is kvm, but the Docker host has no /dev/kvm: use auto (emulation where KVM is missing) or tcg, or a host with hardware virtualisation")
		}
	}
	if cpus, err := strconv.ParseFloat(p.NodeCPUs, 64); err == nil && h.CPUs > 0 && cpus > float64(h.CPUs) {
		v.fail("nodeCpus", "%s is more than the Docker host's %d CPUs: use at most %d", strings.TrimSuffix(p.NodeCPUs, "."), h.CPUs, h.CPUs)
	}
	if h.Addresses != nil {
		bind := netip.MustParseAddr(p.SSHAddress)
		if !bind.IsUnspecified() && !slices.Contains(h.Addresses, bind) {
			v.fail("sshAddress", "%s is not an address of this host (it has %s): use 127.0.0.1, 0.0.0.0 or one of those", bind, joinAddrs(h.Addresses))
		}
	}
	var taken []netip.Prefix
	for _, n := range h.Networks {
		if n.Cohort == p.Cohort {
			continue
		}
		taken = append(taken, n.Subnets...)
		for _, t := range p.Teams {
			if clash := overlapping(t.Subnet, n.Subnets); clash.IsValid() {
				v.fail("addressPool", "team %s's subnet %s overlaps %s (%s) on the Docker host: use a pool that is free, e.g. %s",
					t.Name, t.Subnet, describeNetwork(n), clash, freePool(taken, p.Teams))
				break
			}
		}
	}
	if clash := p.portClash(h.Published); clash != "" {
		v.fail("sshPortBase", "%s: use labfleet:sshPortBase %d (free on this host)", clash, p.freePortBase(h.Published))
	}
	return v.err()
}

func describeNetwork(n HostNetwork) string {
	if n.Cohort != "" {
		return fmt.Sprintf("network %q of cohort %q", n.Name, n.Cohort)
	}
	return fmt.Sprintf("network %q", n.Name)
}

func overlapping(p netip.Prefix, others []netip.Prefix) netip.Prefix {
	for _, o := range others {
		if o.Overlaps(p) {
			return o
		}
	}
	return netip.Prefix{}
}

// freePool suggests a /16 in 172.16.0.0/12 that no network on the host overlaps.
func freePool(taken []netip.Prefix, teams []Team) string {
	for i := 31; i >= 16; i-- {
		candidate := netip.MustParsePrefix(fmt.Sprintf("172.%d.0.0/16", i))
		if len(teams) <= 1<<(TeamPrefixBits-16) && !overlapping(candidate, taken).IsValid() {
			return candidate.String()
		}
	}
	return "a /16 of 10.0.0.0/8 that no network uses"
}

// portClash names the first published port of the plan that something else on the host
// already holds, or returns "".
func (p *Plan) portClash(published []HostPort) string {
	bind := netip.MustParseAddr(p.SSHAddress)
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			for _, hp := range published {
				if hp.Cohort == p.Cohort || hp.Port != n.SSHPort || !(hp.IP == bind || hp.IP.IsUnspecified() || bind.IsUnspecified()) {
					continue
				}
				holder := fmt.Sprintf("container %s", hp.Container)
				if hp.Cohort != "" {
					holder = fmt.Sprintf("container %s of cohort %q", hp.Container, hp.Cohort)
				}
				return fmt.Sprintf("port %d (node %s) is already published on the Docker host by %s", n.SSHPort, n.Name, holder)
			}
		}
	}
	return ""
}

// freePortBase suggests a base (a multiple of 100 from 2200) whose whole range is free.
func (p *Plan) freePortBase(published []HostPort) int {
	span := len(p.Teams) * NodeSlotsPerTeam
	for base := 2200; base+span <= ephemeralFirst; base += 100 {
		if !slices.ContainsFunc(published, func(hp HostPort) bool { return hp.Port >= base && hp.Port < base+span }) {
			return base
		}
	}
	return 2200
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
