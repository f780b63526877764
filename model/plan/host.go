package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// HostFacts is what a Docker host already has, read before anything is created, so that
// a plan that would collide with it (another cohort, Docker's own bridge, a busy port) or
// not fit in it is refused with the setting to change instead of failing half-way through
// `pulumi up`. Zero values mean unknown, and check nothing.
type HostFacts struct {
	// Err is why the engine could not be read; every other field is then unknown.
	Err       string
	Version   string       // the Docker engine's version
	CPUs      int          // 0 when unknown
	MemoryMB  int          // the host's memory, 0 when unknown
	Cgroup    string       // "1" or "2", as the engine reports it
	KVM       bool         // the host has /dev/kvm (it may still be unusable: the launcher probes)
	Addresses []netip.Addr // the host's own addresses; nil when unknown (a remote engine)
	Networks  []HostNetwork
	Published []HostPort
	// Nodes are the labfleet node containers on the host, of every cohort.
	Nodes []HostNode
	// Labelled are the labfleet objects on the host (containers, volumes, networks): where
	// each cohort's teams live now.
	Labelled []HostObject
	// Kernel is read from the host's own /proc where labfleet can reach it (this machine, or
	// an ssh:// engine over the same SSH); nil when it cannot (tcp://). KernelErr is why a
	// kernel that should be readable was not: the plan then stops rather than guess.
	Kernel    *Kernel
	KernelErr string
}

// Kernel is what the host kernel offers the cohort.
type Kernel struct {
	// IPVS is ip_vs loaded: the routing mesh needs it, and dind nodes, which see no
	// /lib/modules, cannot load it. IPVSModule is ip_vs as a module the kernel loads on
	// first use: enough where dockerd runs on that kernel itself (an existing machine).
	IPVS             bool
	IPVSModule       bool
	InotifyWatches   int
	InotifyInstances int
	// CapSysResource: the host's capability bounding set has CAP_SYS_RESOURCE (some hosts'
	// do not, which is why --privileged fails there).
	CapSysResource bool
}

// HostObject is one labfleet object on a host, by its labels.
type HostObject struct{ Cohort, Team string }

// HostNetwork is a Docker network on the host; Cohort and Team are its labfleet labels.
type HostNetwork struct {
	Name    string
	Cohort  string
	Team    string
	Subnets []netip.Prefix
}

// HostNode is a labfleet node container on the host, as it was created.
type HostNode struct {
	Container          string
	Cohort, Team, Node string     // its labfleet labels
	IP                 netip.Addr // its address on its team network
	SSHPort            int        // the host port its sshd is published on
	// Settings are what it was created with that the Docker provider cannot change without
	// replacing it (nodecontainer.Spec.Settings), read back from the engine.
	Settings map[string]string
}

// HostPort is a port a container publishes on the host; Cohort is its labfleet.cohort label.
type HostPort struct {
	Container string
	Cohort    string
	IP        netip.Addr // unspecified (0.0.0.0) binds every address
	Port      int
}

// Placed reads where a cohort's teams live now from the labelled objects of the hosts (team
// -> host), for Config.Current; a team found on two hosts counts where it is first listed.
func Placed(cohort string, hosts []Host, facts map[string]HostFacts) map[string]string {
	out := map[string]string{}
	for _, h := range hosts {
		for _, o := range facts[h.Name].Labelled {
			if o.Cohort == cohort && o.Team != "" {
				if _, seen := out[o.Team]; !seen {
					out[o.Team] = h.Name
				}
			}
		}
	}
	return out
}

// CheckHost is CheckHosts for a plan on one host.
func (p *Plan) CheckHost(h HostFacts) error {
	return p.CheckHosts(map[string]HostFacts{p.Hosts[0].Name: h})
}

// CheckHosts refuses a plan that does not fit its hosts as they are now: every problem of
// every host at once, each naming the host's setting and the fix. A cohort's own networks
// and containers (a re-run) are never in the way. It also decides, host by host, whether
// VM nodes get the host's /dev/kvm.
func (p *Plan) CheckHosts(facts map[string]HostFacts) error {
	v := &validator{}
	for i := range p.Hosts {
		h := &p.Hosts[i]
		f, known := facts[h.Name]
		if !known {
			continue
		}
		teams := p.TeamsOn(h.Name)
		if f.Err != "" {
			if len(teams) > 0 {
				v.fail(fmt.Sprintf("hosts[%d]", h.Index), "host %s: cannot reach its Docker engine (%s): %s", h.Name, describeEngine(h.Engine), f.Err)
			}
			continue
		}
		if f.KernelErr != "" && len(teams) > 0 {
			v.fail(fmt.Sprintf("hosts[%d]", h.Index), "host %s: could not read its kernel (%s), which decides /dev/kvm for VM nodes, IPVS and the capabilities nodes get: labfleet does not guess, so nothing was changed: run pulumi up again", h.Name, f.KernelErr)
			continue
		}
		p.checkHost(v, h, teams, f)
	}
	return v.err()
}

func (p *Plan) checkHost(v *validator, h *Host, teams []Team, f HostFacts) {
	// Where the bounding set lacks CAP_SYS_RESOURCE, Docker 20.10 needs it dropped to start a
	// reduced node, and Docker 26 refuses to drop it (seen here, with a host of each kind).
	h.NoCapDrop = f.Kernel != nil && !f.Kernel.CapSysResource && majorVersion(f.Version) >= 26
	on := ""
	if len(p.Hosts) > 1 {
		on = " on host " + h.Name
	}
	if p.NodeKind == NodeKindVM {
		h.KVMDevice = f.KVM && p.VM.Accel != AccelTCG
		if p.VM.Accel == AccelKVM && !f.KVM && len(teams) > 0 {
			v.fail("vmAccel", "is kvm, but the Docker host%s has no /dev/kvm: use auto (emulation where KVM is missing) or tcg, or a host with hardware virtualisation", on)
		}
	}
	if len(teams) == 0 {
		return
	}
	if cpus, err := strconv.ParseFloat(p.NodeCPUs, 64); err == nil && f.CPUs > 0 && cpus > float64(f.CPUs) {
		v.fail("nodeCpus", "%s is more than the Docker host's %d CPUs%s: use at most %d", strings.TrimSuffix(p.NodeCPUs, "."), f.CPUs, on, f.CPUs)
	}
	if need := len(teams) * p.TeamMemoryMB(teams[0]); f.MemoryMB > 0 && need > f.MemoryMB {
		v.fail(fmt.Sprintf("hosts[%d]", h.Index), "host %s has %dm of memory, but its %d teams' nodes may use %dm: %dm missing: lower labfleet:nodeMemory, add a host, or declare this host's memory so fewer teams go there",
			h.Name, f.MemoryMB, len(teams), need, need-f.MemoryMB)
	}
	if p.NodeKind == NodeKindDind {
		p.checkIPVS(v, "host "+h.Name, f.Kernel, false) // VM guests have a kernel of their own
	}
	if f.Addresses != nil {
		bind := netip.MustParseAddr(h.SSHAddress)
		if !bind.IsUnspecified() && !slices.Contains(f.Addresses, bind) {
			v.fail(h.Key("sshAddress"), "%s is not an address of this host (it has %s): use 127.0.0.1, 0.0.0.0 or one of those", bind, joinAddrs(f.Addresses))
		}
	}
	var taken []netip.Prefix
	for _, n := range f.Networks {
		if n.Cohort == p.Cohort {
			continue
		}
		taken = append(taken, n.Subnets...)
		for _, t := range teams {
			if clash := overlapping(t.Subnet, n.Subnets); clash.IsValid() {
				v.fail(h.Key("addressPool"), "team %s's subnet %s overlaps %s (%s) on the Docker host%s: use a pool that is free, e.g. %s",
					t.Name, t.Subnet, describeNetwork(n), clash, on, freePool(taken, p.Teams))
				break
			}
		}
	}
	if clash := portClash(p.Cohort, h, teams, f.Published); clash != "" {
		v.fail(h.Key("sshPortBase"), "%s: use labfleet:%s %d (free on this host)", clash, h.Key("sshPortBase"), freePortBase(len(p.Teams), f.Published))
	}
}

// IPVSScript prints how the kernel it runs on offers IPVS: "loaded", "module" (the kernel
// loads ip_vs on first use) or "no". The host preflight and the node's own check read the
// same answer, so `routingMesh: ingress` cannot pass one and fail the other.
const IPVSScript = `if [ -e /proc/net/ip_vs ]; then echo loaded; ` +
	`elif grep -qs '/ip_vs.ko' /lib/modules/$(uname -r)/modules.dep /lib/modules/$(uname -r)/modules.builtin; then echo module; else echo no; fi`

// ParseIPVS reads IPVSScript's answer: loaded, and loadable as a module.
func ParseIPVS(answer string) (loaded, module bool) {
	answer = strings.TrimSpace(answer)
	return answer == "loaded", answer == "module"
}

// checkIPVS refuses labfleet:routingMesh ingress where the kernel is known to lack IPVS.
// dockerd loads ip_vs itself where it runs on that kernel (selfLoads: an existing
// machine); dind nodes share the host's kernel but cannot load modules, so it must be
// loaded there already.
func (p *Plan) checkIPVS(v *validator, where string, k *Kernel, selfLoads bool) {
	if p.Day2.Mesh != MeshIngress || k == nil || k.IPVS || selfLoads && k.IPVSModule {
		return
	}
	if k.IPVSModule {
		v.fail("routingMesh", "is ingress, but ip_vs, which the routing mesh needs, is not loaded in the kernel of %s, and node containers cannot load it: run `modprobe ip_vs` there (and list it in /etc/modules-load.d/), or use auto", where)
		return
	}
	v.fail("routingMesh", "is ingress, but the kernel of %s has no IPVS (ip_vs), which the routing mesh needs: use auto (host-mode ports) or a kernel with ip_vs", where)
}

func describeEngine(e Engine) string {
	if e.URL == "" {
		return "the local engine"
	}
	return e.URL
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

// portClash names the first published port of a host's teams that something else on the
// host already holds, or returns "".
func portClash(cohort string, h *Host, teams []Team, published []HostPort) string {
	bind := netip.MustParseAddr(h.SSHAddress)
	for _, t := range teams {
		for _, n := range t.Nodes {
			for _, hp := range published {
				if hp.Cohort == cohort || hp.Port != n.SSHPort || !(hp.IP == bind || hp.IP.IsUnspecified() || bind.IsUnspecified()) {
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
func freePortBase(teams int, published []HostPort) int {
	span := teams * NodeSlotsPerTeam
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

// majorVersion is the major number of a Docker version such as "26.1.5" (0 when unknown).
func majorVersion(v string) int {
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}
