package plan

import "net/netip"

// Role is a node's Swarm role.
type Role string

const (
	Manager Role = "manager"
	Worker  Role = "worker"
)

// Privilege is how node containers get the rights a nested dockerd needs.
type Privilege string

const (
	// PrivilegePrivileged runs nodes with --privileged, as play-with-docker does.
	PrivilegePrivileged Privilege = "privileged"
	// PrivilegeReduced adds every capability but CAP_SYS_RESOURCE and lifts the seccomp,
	// AppArmor and /proc masking confinement: it works on hosts whose capability bounding
	// set refuses --privileged, and is what labfleet uses by default.
	PrivilegeReduced Privilege = "reduced"
)

// CapSysResource is CAP_SYS_RESOURCE's bit in a capability set (/proc/*/status CapBnd): the
// capability the reduced mode leaves out, which some hosts' bounding sets lack.
const CapSysResource = 24

// NodeKind is what a node is: a docker-in-docker container, or a virtual machine run by a
// container (QEMU; the guest takes over the container's address).
type NodeKind string

const (
	NodeKindDind NodeKind = "dind"
	NodeKindVM   NodeKind = "vm"
)

// Accel is how VM guests run: KVM where a guest really boots with it, or TCG emulation.
type Accel string

const (
	AccelAuto Accel = "auto" // KVM if a guest boots with it, else TCG with a warning
	AccelKVM  Accel = "kvm"  // KVM or fail
	AccelTCG  Accel = "tcg"  // always emulate
)

// VM is how VM nodes are sized and run.
type VM struct {
	MemoryMB int // the guest's memory
	CPUs     int
	Accel    Accel
}

// VMOverheadMB is what a VM node's container needs besides its guest's memory: QEMU itself
// and, under TCG, its translation cache (tb-size=256).
const VMOverheadMB = 512

// The port and address layout. A team owns a fixed block of NodeSlotsPerTeam ports and a
// /TeamPrefixBits subnet chosen by its slot, and each node an address and a port in them
// chosen by its own slot (see Slots): once a team or node exists, no edit of the config
// moves it (which would replace its node containers).
const (
	NodeSlotsPerTeam = 10
	TeamPrefixBits   = 24
	FirstNodeHost    = 10 // node k of a team gets host number FirstNodeHost+k in the subnet
	SSHUser          = "student"
	StudentHome      = "/home/" + SSHUser
	// AdminUser is the account labfleet's bootstrap logs in with, with a key only labfleet has.
	AdminUser       = "labfleet"
	MinNodeMemoryMB = 256
	MaxTeams        = 100
	NodeSSHPort     = 22
)

// Plan is a validated cohort: everything labfleet will create, as plain values.
type Plan struct {
	Cohort       string
	NodeKind     NodeKind
	VM           VM // for NodeKindVM
	Image        Image
	Privilege    Privilege
	NodeMemoryMB int
	NodeCPUs     string
	// Hosts are the Docker hosts of the cohort; every team lives on one of them.
	Hosts   []Host
	SSHUser string
	Teams   []Team
	Day2    Day2
	Day3    Day3
	// ResetSwarms maps a team to the cluster ID of its swarm to start over (see Config).
	ResetSwarms map[string]string
	Parallel    Parallel
	// Warnings are legal but questionable choices, shown to the instructor.
	Warnings []string
}

// Parallel bounds the bootstrap's fan-out, so a cohort of 30 teams on a small host does not
// open 90 SSH connections and 30 image streams at once.
type Parallel struct {
	Teams   int // teams converging at once (each with one SSH connection per node)
	Streams int // image transfers (docker load over SSH) at once, across all teams
}

// RoutingMesh is how the Day-2 stack publishes its port.
type RoutingMesh string

const (
	// MeshAuto uses the ingress mesh when the host kernel has IPVS, host mode otherwise.
	MeshAuto RoutingMesh = "auto"
	// MeshIngress is swarm's routing mesh (needs IPVS): any node answers, tasks are VIPs.
	MeshIngress RoutingMesh = "ingress"
	// MeshHost publishes on each node itself (mode: host) with DNS round robin (dnsrr).
	MeshHost RoutingMesh = "host"
)

// Day2 is the Day-2 lab stack: the app images on every node, and the reference stack.
type Day2 struct {
	Enabled bool
	Mesh    RoutingMesh
	Port    int // published on every node of a team
}

// DefaultKindNodeImage is labfleet's own kind node image, which it builds offline on a host
// that lacks it (bootstrap/kindimage). Referenced by tag, as every kind node image must be:
// `docker load` drops repo digests, so a digest reference would make kind pull again.
const DefaultKindNodeImage = "labfleet/kind-node:v1.37.2"

// Kind cluster sizing, used to check nodeMemory before anything runs.
const (
	KindControlPlaneMB = 1024
	KindWorkerMB       = 512
	NodeBaseMB         = 512 // dockerd, sshd and the Day-2 lab on the node that hosts kind
)

// Day3 is the Day-3 kind environment. Each team's cluster runs inside the team's first
// manager node, in that node's own dockerd.
type Day3 struct {
	Prepare       bool // kind and kubectl on every node, node image on the first manager
	Clusters      bool // a kind cluster per team (day 3)
	ControlPlanes int
	Workers       int
	NodeImage     string
	APIPort       int
	NodePorts     []int // published from the cluster on the hosting node, for Services of type NodePort
}

// KindMemoryMB is what a team's kind cluster needs on top of the node's own use.
func (d Day3) KindMemoryMB() int {
	return d.ControlPlanes*KindControlPlaneMB + d.Workers*KindWorkerMB
}

// Image says which node image the containers run.
type Image struct {
	Ref   string // the image reference containers use
	Build bool   // true: labfleet builds Ref from its own Dockerfile
}

// Team is one team's isolated swarm: its own bridge network and nodes.
type Team struct {
	Name        string
	Host        string // the Docker host it lives on (its swarm traffic stays there)
	Index       int    // its position in the cohort's order
	Slot        int    // its block of subnets and SSH ports (see Slots)
	NetworkName string
	Subnet      netip.Prefix
	Gateway     netip.Addr
	Nodes       []Node
}

// Node is one node container of a team.
type Node struct {
	Name          string // also the hostname, e.g. "team1-m1"
	Team          string
	Host          string // the team's Docker host
	Role          Role
	Slot          int // its address and port within the team's block (see Slots)
	IP            netip.Addr
	SSHPort       int // published on its host's SSHAddress
	ContainerName string
	VolumeName    string // holds the node's /var/lib/docker (a VM node's guest disk)
	// HomeVolumeName holds a dind node's /home, so what students made survives a replaced
	// node container (a VM guest's home is on its disk, a machine's on the machine).
	HomeVolumeName string
	// Machine is the existing machine the node is, for a cohort on labfleet:machines; nil
	// for a node container.
	Machine *Machine
}

// Node returns the team's node named name.
func (t Team) Node(name string) (Node, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Managers returns the team's manager nodes, in plan order.
func (t Team) Managers() []Node { return t.withRole(Manager) }

// Workers returns the team's worker nodes, in plan order.
func (t Team) Workers() []Node { return t.withRole(Worker) }

func (t Team) withRole(r Role) []Node {
	var out []Node
	for _, n := range t.Nodes {
		if n.Role == r {
			out = append(out, n)
		}
	}
	return out
}

// Labels are the Docker labels every labfleet object of a node carries, so an instructor
// (or a cleanup script) can find a cohort's, a team's or a node's objects with a filter.
func (p *Plan) Labels(team string, node *Node) map[string]string {
	l := map[string]string{
		"labfleet.cohort": p.Cohort,
		"labfleet.team":   team,
	}
	if node != nil {
		l["labfleet.node"] = node.Name
		l["labfleet.role"] = string(node.Role)
	}
	return l
}

// DefaultImageRef is the tag of the node image labfleet builds for a cohort.
func DefaultImageRef(cohort string, kind NodeKind) string {
	if kind == NodeKindVM {
		return cohort + "-vm:latest"
	}
	return cohort + "-node:latest"
}

// ContainerMemoryMB is the memory limit of a node container: the node's own for dind, the
// guest's plus QEMU's for a VM.
func (p *Plan) ContainerMemoryMB() int {
	if p.NodeKind == NodeKindVM {
		return p.VM.MemoryMB + VMOverheadMB
	}
	return p.NodeMemoryMB
}

// How many times longer the same work takes on a node than on a docker-in-docker node, by
// what runs the node: the bootstrap scales every step's time limit by it. Measured here
// (2 cores): a VM guest under TCG boots to dockerd in about 50 s against 2 s for a
// container, and `docker run` in a guest whose one vCPU runs the day2 tasks' health checks
// took over 2 minutes where a container takes a second.
const (
	PaceContainer = 1.0
	PaceKVM       = 2.0
	PaceTCG       = 6.0
)

// Pace is the pace of team t's nodes. accel is how their VM guests run, as the launcher
// reported it ("kvm" or "tcg"), or "" before it is known, when the plan predicts it: TCG
// unless the host passes /dev/kvm in and vmAccel allows it.
func (p *Plan) Pace(t Team, accel Accel) float64 {
	if p.NodeKind != NodeKindVM || t.OnMachines() {
		return PaceContainer
	}
	if accel == "" && p.Host(t.Host).KVMDevice {
		accel = AccelKVM
	}
	if accel == AccelKVM {
		return PaceKVM
	}
	return PaceTCG
}
