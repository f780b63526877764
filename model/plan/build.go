package plan

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	cohortPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,29}$`)
	teamNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	// A repository path is lowercase; the tag after the last ':' may have uppercase letters.
	imageRefPattern = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{6,64})?$`)
	memoryPattern   = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?$`)
)

// Build validates cfg and lays out the cohort. It reports every problem at once, each
// naming its config key and how to fix it, so an instructor fixes the file in one pass.
func Build(cfg Config) (*Plan, error) {
	v := &validator{}
	p := &Plan{Cohort: cfg.Cohort, SSHUser: SSHUser}

	if !cohortPattern.MatchString(cfg.Cohort) {
		v.fail("stack name", "%q cannot prefix Docker names: use 1-30 lowercase letters, digits and '-', starting with a letter or digit (pulumi stack rename <name>)", cfg.Cohort)
	}
	names := v.teamNames(cfg)
	v.nodeCounts(cfg)
	teamSlots, err := assignSlots(names, cfg.Slots.Teams, MaxTeams)
	if err != nil {
		v.fail("teams", "%v", err)
	}
	blocks := 0 // team blocks of subnets and ports the hosts must hold
	for _, slot := range teamSlots {
		blocks = max(blocks, slot+1)
	}
	p.NodeMemoryMB = v.memoryMB(cfg.NodeMemory)
	p.NodeCPUs = v.cpus(cfg.NodeCPUs)
	p.Privilege = v.privilege(cfg.Privilege)
	p.NodeKind, p.VM = v.nodeKind(cfg)
	p.Image = v.image(cfg, p.NodeKind)
	machines := v.machines(cfg, names)
	p.Hosts = v.hosts(cfg, blocks)
	v.teamHosts(cfg.TeamHosts, names, p.Hosts)
	p.Day2 = v.day2(cfg)
	memoryKey, memory, memoryMB := "nodeMemory", cfg.NodeMemory, p.NodeMemoryMB
	if p.NodeKind == NodeKindVM {
		memoryKey, memory, memoryMB = "vmMemory", cfg.VMMemory, p.VM.MemoryMB // the guest hosts the kind cluster
	}
	if machines != nil {
		memoryMB = 0 // a machine's memory is its own: CheckMachines reads it
	}
	p.Day3 = v.day3(cfg, memoryKey, memory, memoryMB)
	p.ResetSwarms = v.resetSwarms(cfg.ResetSwarms, names)
	p.Parallel = v.parallel(cfg)
	if err := v.err(); err != nil {
		return nil, err
	}
	// Placement needs a valid shape (the memory of a team) and reports its own problems.
	teamMB := (cfg.Managers + cfg.Workers) * p.ContainerMemoryMB()
	where := map[string]string{}
	if machines == nil {
		where = v.place(cfg, names, p.Hosts, teamMB)
	} else {
		for _, name := range names {
			where[name] = LocalHost // the host its lab images are built on
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	for i, name := range names {
		h := p.Host(where[name])
		t, err := layoutTeam(p.Cohort, name, h, i, teamSlots[name], cfg)
		if err != nil {
			v.fail("managers", "team %s: %v", name, err)
			continue
		}
		p.Teams = append(p.Teams, t)
		if was, ok := cfg.Current[name]; ok && was != h.Name {
			p.Warnings = append(p.Warnings, fmt.Sprintf("labfleet:teamHosts moves team %s from host %s to host %s: its nodes on %s are deleted and it starts over, empty, on %s", name, was, h.Name, was, h.Name))
		}
	}
	if machines != nil {
		v.assignMachines(p.Teams, machines, p.Cohort, cfg.MachineNodes)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, machineWarnings(p.Teams)...)
	if p.Day3.Clusters && p.Privilege == PrivilegeReduced && p.NodeKind == NodeKindDind && machines == nil {
		p.Warnings = append(p.Warnings, "labfleet:day is 3 with labfleet:privilege reduced: kind's node containers start, but Kubernetes components miss CAP_SYS_RESOURCE; prefer privileged where the Docker host allows --privileged")
	}
	if cfg.Managers%2 == 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"labfleet:managers is %d: an even number of managers tolerates no more failures than %d; prefer an odd number",
			cfg.Managers, cfg.Managers-1))
	}
	return p, nil
}

// layoutTeam lays out team name, at position index in the cohort's order and in slot slot
// of host h: its subnet and block of SSH ports come from the slot, and each node's address
// and port from its own slot within them (cfg.Slots for the nodes that exist).
func layoutTeam(cohort, name string, h Host, index, slot int, cfg Config) (Team, error) {
	subnet := netip.PrefixFrom(nthAddr(h.AddressPool.Addr(), slot<<(32-TeamPrefixBits)), TeamPrefixBits)
	t := Team{
		Name:        name,
		Host:        h.Name,
		Index:       index,
		Slot:        slot,
		NetworkName: cohort + "-" + name,
		Subnet:      subnet,
		Gateway:     subnet.Addr().Next(),
	}
	var names []string
	roles := map[string]Role{}
	add := func(role Role, count int, letter string) {
		for k := 1; k <= count; k++ {
			n := fmt.Sprintf("%s-%s%d", name, letter, k)
			names, roles[n] = append(names, n), role
		}
	}
	add(Manager, cfg.Managers, "m")
	add(Worker, cfg.Workers, "w")
	slots, err := assignSlots(names, cfg.Slots.Nodes[name], NodeSlotsPerTeam)
	if err != nil {
		return t, err
	}
	for _, nodeName := range names {
		n := Node{
			Name:    nodeName,
			Team:    name,
			Host:    h.Name,
			Role:    roles[nodeName],
			Slot:    slots[nodeName],
			IP:      nthAddr(subnet.Addr(), FirstNodeHost+slots[nodeName]),
			SSHPort: h.SSHPortBase + slot*NodeSlotsPerTeam + slots[nodeName],
		}
		n.ContainerName = cohort + "-" + n.Name
		n.VolumeName = n.ContainerName + "-docker"
		n.HomeVolumeName = n.ContainerName + "-home"
		t.Nodes = append(t.Nodes, n)
	}
	return t, nil
}

func nthAddr(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// validator collects every configuration problem.
type validator struct{ problems []string }

func (v *validator) fail(key, format string, args ...any) {
	if key != "stack name" {
		key = Namespace + ":" + key
	}
	v.problems = append(v.problems, key+": "+fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return errors.New("invalid cohort configuration:\n  - " + strings.Join(v.problems, "\n  - "))
}

func (v *validator) teamNames(cfg Config) []string {
	if len(cfg.TeamNames) == 0 {
		switch {
		case cfg.Teams < 1:
			v.fail("teams", "must be at least 1 (got %d): pulumi config set labfleet:teams 2", cfg.Teams)
			return nil
		case cfg.Teams > MaxTeams:
			v.fail("teams", "%d is more than labfleet supports on one stack (%d): split the cohort into several stacks", cfg.Teams, MaxTeams)
			return nil
		}
		names := make([]string, cfg.Teams)
		for i := range names {
			names[i] = fmt.Sprintf("team%d", i+1)
		}
		return names
	}
	if cfg.Teams != len(cfg.TeamNames) {
		v.fail("teams", "is %d but labfleet:teamNames lists %d names: set labfleet:teams to %d, or change the list",
			cfg.Teams, len(cfg.TeamNames), len(cfg.TeamNames))
	}
	if len(cfg.TeamNames) > MaxTeams {
		v.fail("teamNames", "lists %d teams, more than labfleet supports on one stack (%d): split the cohort into several stacks", len(cfg.TeamNames), MaxTeams)
		return nil
	}
	seen := map[string]bool{}
	ok := true
	for _, n := range cfg.TeamNames {
		if !teamNamePattern.MatchString(n) || strings.HasSuffix(n, "-") {
			v.fail("teamNames", "%q is not a valid team name: use 1-20 lowercase letters, digits and '-', starting with a letter (it becomes part of hostnames)", n)
			ok = false
		}
		if seen[n] {
			v.fail("teamNames", "%q is listed twice: team names must be unique", n)
			ok = false
		}
		seen[n] = true
	}
	if !ok {
		return nil
	}
	return cfg.TeamNames
}

func (v *validator) nodeCounts(cfg Config) {
	if cfg.Managers < 1 {
		v.fail("managers", "must be at least 1 (got %d): a swarm needs a manager", cfg.Managers)
	}
	if cfg.Workers < 0 {
		v.fail("workers", "cannot be negative (got %d): use 0 for a managers-only swarm", cfg.Workers)
	}
	if cfg.Managers > 0 && cfg.Workers >= 0 && cfg.Managers+cfg.Workers > NodeSlotsPerTeam {
		v.fail("workers", "managers+workers is %d, but a team owns a block of %d SSH ports, so it can have at most that many nodes (more would collide with the next team's ports): lower labfleet:managers or labfleet:workers",
			cfg.Managers+cfg.Workers, NodeSlotsPerTeam)
	}
}

// memoryMB parses nodeMemory.
func (v *validator) memoryMB(s string) int { return v.memory("nodeMemory", s, MinNodeMemoryMB) }

// memory parses sizes such as "1g", "768m", "1.5G" or "2GiB" into megabytes.
func (v *validator) memory(key, s string, minMB int) int {
	m := memoryPattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		v.fail(key, "%q is not a memory size: write a number with a unit, e.g. 1g or 768m", s)
		return 0
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	scale := map[string]float64{"": 1.0 / (1 << 20), "k": 1.0 / 1024, "m": 1, "g": 1024, "t": 1 << 20}[m[2]]
	mb := int(n * scale)
	if mb < minMB {
		v.fail(key, "%q is below the %dm a node needs for dockerd, sshd and a lab container: use e.g. 1g", s, minMB)
		return 0
	}
	if mb > 1<<20 {
		v.fail(key, "%q is more than a terabyte per node: use e.g. 1g", s)
		return 0
	}
	return mb
}

func (v *validator) cpus(s string) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		v.fail("nodeCpus", "%q is not a CPU limit: use a positive number of CPUs such as 1 or 0.5", s)
		return ""
	}
	if f < 0.01 || f > 256 {
		// Docker reads a limit under 0.01 CPU as no limit at all.
		v.fail("nodeCpus", "%q is outside 0.01-256 CPUs (Docker takes less than 0.01 as no limit at all): use e.g. 1 or 0.5", s)
		return ""
	}
	return providerCPUs(int64(math.Round(f * 1e9)))
}

// providerCPUs writes a CPU limit exactly as the docker provider reads it back from the
// engine (nanoInt64ToDecimalString in terraform-provider-docker), quirks included: "1.0",
// "0.5", "1.25", and "10." for ten. Any other spelling shows as a change on every preview
// and replaces the node.
func providerCPUs(nano int64) string {
	rat := new(big.Rat).SetFrac64(nano, 1e9)
	s := rat.FloatString(9)
	if strings.Count(s, "0") == 9 {
		return rat.FloatString(1)
	}
	return strings.TrimRight(s, "0")
}

func (v *validator) privilege(s string) Privilege {
	switch Privilege(s) {
	case PrivilegePrivileged, PrivilegeReduced:
		return Privilege(s)
	}
	v.fail("privilege", "%q is not a privilege mode: use %q (hosts that allow --privileged) or %q (hosts that refuse it)",
		s, PrivilegePrivileged, PrivilegeReduced)
	return ""
}

func (v *validator) nodeKind(cfg Config) (NodeKind, VM) {
	kind := NodeKind(cfg.NodeKind)
	vm := VM{CPUs: cfg.VMCPUs, Accel: Accel(cfg.VMAccel)}
	if kind != NodeKindDind && kind != NodeKindVM {
		v.fail("nodeKind", "%q is not a kind of node: use %q (docker-in-docker containers) or %q (a virtual machine per node)", cfg.NodeKind, NodeKindDind, NodeKindVM)
	}
	if kind != NodeKindVM {
		return kind, VM{}
	}
	vm.MemoryMB = v.memory("vmMemory", cfg.VMMemory, 512)
	if cfg.VMCPUs < 1 || cfg.VMCPUs > 16 {
		v.fail("vmCpus", "%d: use 1 to 16 virtual CPUs per VM node, e.g. 1", cfg.VMCPUs)
	}
	switch vm.Accel {
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		v.fail("vmAccel", "%q is not an acceleration: use %q (KVM if a guest boots with it, else emulation), %q (KVM or fail) or %q (always emulate)", cfg.VMAccel, AccelAuto, AccelKVM, AccelTCG)
	}
	return kind, vm
}

func (v *validator) image(cfg Config, kind NodeKind) Image {
	if cfg.NodeImage == "" {
		return Image{Ref: DefaultImageRef(cfg.Cohort, kind), Build: true}
	}
	if !imageRefPattern.MatchString(cfg.NodeImage) {
		v.fail("nodeImage", "%q is not an image reference: use e.g. myorg/labfleet-node:1.0, or leave it empty to build labfleet's own image", cfg.NodeImage)
	}
	return Image{Ref: cfg.NodeImage}
}

// addresses checks a host's bind address and public host name (defaulted from the bind
// address when empty).
func (v *validator) addresses(h Host, bind, public string) (string, string) {
	a, err := netip.ParseAddr(bind)
	if err != nil || !a.Is4() {
		v.fail(h.Key("sshAddress"), "%q is not an IPv4 address: use 127.0.0.1 (this machine only) or 0.0.0.0 / the host's LAN address (students' laptops)", bind)
		return "", ""
	}
	if public == "" {
		if a.IsUnspecified() {
			// Binding every address is how students' laptops get in, and their cards would
			// say 127.0.0.1: the name they type has to come from the instructor.
			publicKey := h.Key("publicHost")
			if _, own := h.keys["sshAddress"]; own {
				publicKey = fmt.Sprintf("hosts[%d].publicHost", h.Index)
			}
			v.fail(publicKey, "is not set, but %s 0.0.0.0 opens the SSH ports to students' laptops, whose cards need the name they type: set it to this host's name or LAN address (pulumi config set %s lab.example.org), or use %s 127.0.0.1 for this machine only",
				Namespace+":"+h.Key("sshAddress"), Namespace+":"+publicKey, Namespace+":"+h.Key("sshAddress"))
			return "", ""
		}
		public = a.String()
	} else if !hostPattern.MatchString(public) {
		// It ends up in ssh_config and on command lines: no spaces, controls or leading '-'.
		v.fail(h.Key("publicHost"), "%q is not a host name or address: use the name or IP students type, e.g. lab.example.org", public)
	}
	return a.String(), public
}

// pool checks an address pool (key names its setting) that teams' /24 subnets are cut
// from, by team position.
func (v *validator) pool(key, pool string, teams int) netip.Prefix {
	p, err := netip.ParsePrefix(pool)
	if err != nil || !p.Addr().Is4() {
		v.fail(key, "%q is not an IPv4 CIDR: use e.g. 172.30.0.0/16", pool)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		v.fail(key, "%q has host bits set: use %s", pool, p.Masked())
		return netip.Prefix{}
	}
	if p.Bits() > TeamPrefixBits {
		v.fail(key, "%q is smaller than one team subnet (/%d): use e.g. 172.30.0.0/16", pool, TeamPrefixBits)
		return netip.Prefix{}
	}
	if !privatePools.overlaps(p) {
		v.fail(key, "%q is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): team networks there would hide real hosts (loopback, multicast and public addresses are out): use e.g. 172.30.0.0/16", pool)
		return netip.Prefix{}
	}
	capacity := 1 << (TeamPrefixBits - p.Bits())
	if teams > capacity {
		v.fail(key, "%q holds %d team subnets (/%d) but the cohort's %d teams need %d: use a larger pool, e.g. /%d",
			pool, capacity, TeamPrefixBits, teams, teams, bitsFor(teams))
		return netip.Prefix{}
	}
	return p
}

func bitsFor(teams int) int {
	bits := TeamPrefixBits
	for 1<<(TeamPrefixBits-bits) < teams {
		bits--
	}
	return bits
}

// portsStudentsUse are taken inside a node: the course's own port, sshd, swarm's ports and
// the kind cluster's NodePort mappings (Day3.NodePorts) on the node that hosts it.
var portsStudentsUse = map[int]string{8080: "the course's Phase 1/2 commands", 22: "sshd", 2377: "swarm management", 7946: "swarm gossip", 4789: "overlay VXLAN",
	30080: "the Day-3 kind cluster's NodePort mapping", 30443: "the Day-3 kind cluster's NodePort mapping"}

// Linux's default ephemeral port range: a port there may be taken by any outgoing connection.
const ephemeralFirst, ephemeralLast = 32768, 60999

// nodePort checks a port labfleet publishes on every node.
func (v *validator) nodePort(key string, port, example int) {
	switch use, taken := portsStudentsUse[port]; {
	case taken:
		v.fail(key, "%d is used on the nodes by %s: use another port, e.g. %d", port, use, example)
	case port < 1024 || port > 65535:
		v.fail(key, "%d is not a usable port: use 1024-65535, e.g. %d", port, example)
	case port >= ephemeralFirst && port <= ephemeralLast:
		v.fail(key, "%d is in the ephemeral range %d-%d, where outgoing connections take ports at random: use e.g. %d", port, ephemeralFirst, ephemeralLast, example)
	}
}

func (v *validator) day2(cfg Config) Day2 {
	d := Day2{Enabled: cfg.Day2Stack, Mesh: RoutingMesh(cfg.RoutingMesh), Port: cfg.AppPort}
	switch d.Mesh {
	case MeshAuto, MeshIngress, MeshHost:
	default:
		v.fail("routingMesh", "%q is not a routing mode: use %q (detect), %q (swarm routing mesh, needs IPVS) or %q (host-mode ports with DNS round robin)",
			cfg.RoutingMesh, MeshAuto, MeshIngress, MeshHost)
	}
	v.nodePort("appPort", cfg.AppPort, 8090)
	return d
}

// day3 checks the Day-3 settings; memoryKey, memory and memoryMB are the setting that sizes
// the node hosting each cluster (nodeMemory, or vmMemory for VM nodes).
func (v *validator) day3(cfg Config, memoryKey, memory string, memoryMB int) Day3 {
	d := Day3{
		Clusters:      cfg.Day == 3,
		Prepare:       cfg.Day == 3 || cfg.Day3Prep,
		ControlPlanes: cfg.KindControlPlanes,
		Workers:       cfg.KindWorkers,
		NodeImage:     cfg.KindNodeImage,
		APIPort:       cfg.KubeAPIPort,
		NodePorts:     []int{30080, 30443},
	}
	if cfg.Day != 2 && cfg.Day != 3 {
		v.fail("day", "%d is not a course day labfleet prepares: use 2 (swarm) or 3 (swarm plus a kind cluster per team)", cfg.Day)
	}
	if cfg.KindControlPlanes < 1 || cfg.KindControlPlanes > 3 {
		v.fail("kindControlPlanes", "%d: use 1 to 3 control-plane nodes per kind cluster", cfg.KindControlPlanes)
	}
	if cfg.KindWorkers < 0 || cfg.KindWorkers > 5 {
		v.fail("kindWorkers", "%d: use 0 to 5 worker nodes per kind cluster", cfg.KindWorkers)
	}
	switch {
	case !imageRefPattern.MatchString(cfg.KindNodeImage):
		v.fail("kindNodeImage", "%q is not an image reference: use a tag, e.g. %s", cfg.KindNodeImage, DefaultKindNodeImage)
	case strings.Contains(cfg.KindNodeImage, "@"):
		v.fail("kindNodeImage", "%q: use a tag without a digest, e.g. %s (docker load drops digests, so kind would try to pull)", cfg.KindNodeImage, DefaultKindNodeImage)
	}
	if cfg.KubeAPIPort == cfg.AppPort {
		v.fail("kubeApiPort", "%d is used on the nodes by labfleet:appPort: use another port, e.g. 6443", cfg.KubeAPIPort)
	} else {
		v.nodePort("kubeApiPort", cfg.KubeAPIPort, 6443)
	}
	if d.Clusters {
		if need := NodeBaseMB + d.KindMemoryMB(); memoryMB > 0 && memoryMB < need {
			v.fail(memoryKey, "%s is too small for day 3: each team's first manager hosts a kind cluster of %d control plane(s) and %d worker(s) (about %dm) besides its own %dm: set labfleet:%s %dm or more",
				memory, d.ControlPlanes, d.Workers, d.KindMemoryMB(), NodeBaseMB, memoryKey, need)
		}
	}
	return d
}

// portRange checks a host's SSH port base: every team's block of ports must be usable.
func (v *validator) portRange(h Host, base, teams int) {
	key := h.Key("sshPortBase")
	if base < 1024 {
		v.fail(key, "%d is a privileged port range that may clash with the host's own services: use 1024 or above, e.g. 2200", base)
		return
	}
	last := base + teams*NodeSlotsPerTeam - 1
	if last > 65535 {
		v.fail(key, "%d with %d teams needs ports %d-%d (%d per team), past 65535: lower labfleet:sshPortBase", base, teams, base, last, NodeSlotsPerTeam)
	} else if base <= ephemeralLast && last >= ephemeralFirst {
		v.fail(key, "%d with %d teams needs ports %d-%d, which reach into the host's ephemeral range %d-%d (any outgoing connection may take them): use e.g. 2200", base, teams, base, last, ephemeralFirst, ephemeralLast)
	}
}

var hostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$`)

var clusterIDPattern = regexp.MustCompile(`^[a-z0-9]{25}$`)

func (v *validator) resetSwarms(resets map[string]string, teams []string) map[string]string {
	for _, team := range sortedKeys(resets) {
		if !slices.Contains(teams, team) {
			v.fail("resetSwarms", "names team %q, which the cohort does not have (teams: %s): remove it with pulumi config rm --path 'labfleet:resetSwarms.%s'",
				team, strings.Join(teams, ", "), team)
		}
		if !clusterIDPattern.MatchString(resets[team]) {
			v.fail("resetSwarms", "%q for team %s is not a swarm cluster ID: copy the team's clusterId from pulumi stack output teams (it names the swarm to discard, so the reset happens once)",
				resets[team], team)
		}
	}
	return resets
}

func (v *validator) parallel(cfg Config) Parallel {
	if cfg.ParallelTeams < 1 || cfg.ParallelTeams > MaxTeams {
		v.fail("parallelTeams", "%d: use 1 to %d teams bootstrapped at once (each opens one SSH connection per node), e.g. 4", cfg.ParallelTeams, MaxTeams)
	}
	if cfg.ParallelStreams < 1 || cfg.ParallelStreams > 64 {
		v.fail("parallelStreams", "%d: use 1 to 64 image transfers at once, e.g. 2", cfg.ParallelStreams)
	}
	return Parallel{Teams: cfg.ParallelTeams, Streams: cfg.ParallelStreams}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

type prefixes []netip.Prefix

var privatePools = prefixes{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}

// overlaps reports whether p lies entirely inside one of the prefixes.
func (ps prefixes) overlaps(p netip.Prefix) bool {
	for _, q := range ps {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
