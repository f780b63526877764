// Package plan turns a cohort's configuration into a validated plan: teams, nodes, roles,
// subnets, addresses and published ports, as plain Go values. It does no I/O and knows
// nothing of Pulumi, so every rule about a cohort's shape is tested here, and every bad
// setting is refused before a single resource is registered.
package plan

// Namespace is the Pulumi config namespace of every labfleet key (labfleet:teams, ...).
const Namespace = "labfleet"

// Config is a cohort's configuration as the instructor wrote it in Pulumi.<cohort>.yaml.
// Every field maps to one key declared in Pulumi.yaml; the defaults live there too, and
// Defaults mirrors them for callers that do not read Pulumi config (tests, benchmarks).
type Config struct {
	// Cohort is the Pulumi stack name. Every Docker name starts with it, so two cohorts
	// can share one Docker host.
	Cohort string

	Teams     int      // labfleet:teams
	TeamNames []string // labfleet:teamNames; when set, it names the teams
	Managers  int      // labfleet:managers, per team
	Workers   int      // labfleet:workers, per team

	NodeMemory string // labfleet:nodeMemory, e.g. "1g" or "768m"
	NodeCPUs   string // labfleet:nodeCpus, e.g. "1" or "0.5"

	SSHAddress  string // labfleet:sshAddress, the host address node SSH ports bind to
	PublicHost  string // labfleet:publicHost, the name students type; defaults from SSHAddress
	SSHPortBase int    // labfleet:sshPortBase

	AddressPool string // labfleet:addressPool, team subnets are cut from it
	NodeImage   string // labfleet:nodeImage; empty builds infra/nodeimage
	Privilege   string // labfleet:privilege, "privileged" or "reduced"

	Day2Stack   bool   // labfleet:day2Stack, deploy the Day-2 lab stack
	RoutingMesh string // labfleet:routingMesh, "auto", "ingress" or "host"
	AppPort     int    // labfleet:appPort, where the Day-2 stack is published on every node

	Day               int    // labfleet:day, 2 or 3: on day 3 every team has a kind cluster
	Day3Prep          bool   // labfleet:day3Prep, install kind/kubectl and preload the node image on day 2 already
	KindControlPlanes int    // labfleet:kindControlPlanes
	KindWorkers       int    // labfleet:kindWorkers
	KindNodeImage     string // labfleet:kindNodeImage
	KubeAPIPort       int    // labfleet:kubeApiPort, on the team's first manager

	// ResetSwarms is labfleet:resetSwarms: team name -> the cluster ID of that team's swarm
	// to discard and start again empty on the next run. Naming the ID makes the reset
	// happen once: the new swarm has another ID.
	ResetSwarms map[string]string

	NodeKind string // labfleet:nodeKind, "dind" or "vm"
	VMMemory string // labfleet:vmMemory, the guest's memory, e.g. "1g"
	VMCPUs   int    // labfleet:vmCpus, the guest's virtual CPUs
	VMAccel  string // labfleet:vmAccel, "auto", "kvm" or "tcg"

	// Hosts is labfleet:hosts, the Docker hosts teams are spread over; empty means one host,
	// the local engine. TeamHosts is labfleet:teamHosts: team name -> host name, placing a
	// team explicitly.
	Hosts     []HostConfig
	TeamHosts map[string]string
	// Machines is labfleet:machines: existing machines, one per node, that the cohort runs
	// on instead of node containers.
	Machines []MachineConfig

	// Current is not a config key: it is where the cohort's teams live now (team -> host),
	// read from the hosts before planning, so that placement never moves a team.
	Current map[string]string
	// MachineNodes is not a config key: the node each existing machine records being, by
	// its target (host:port), read from the machines before planning, so that no edit of
	// labfleet:machines moves a machine to another node or team.
	MachineNodes map[string]RecordedNode
	// PinnedHostKeys is not a config key: the SSH host key of each machine by target, as the
	// stack pinned it when labfleet first reached the machine (its machineHostKeys output).
	PinnedHostKeys map[string]string
	// SeenHostKeys is not a config key: the host key each machine presented to this run's
	// preflight, by target. It pins a machine that neither its entry nor the stack pins yet.
	SeenHostKeys map[string]string
	// Slots is not a config key either: where the cohort's existing teams and nodes sit,
	// read from the hosts (ExistingSlots), so that no edit moves one.
	Slots Slots

	ParallelTeams   int // labfleet:parallelTeams, teams bootstrapped at once
	ParallelStreams int // labfleet:parallelStreams, image transfers into nodes at once
}

// Defaults returns the configuration Pulumi.yaml declares as default, for the given cohort.
func Defaults(cohort string) Config {
	return Config{
		Cohort:      cohort,
		Teams:       2,
		Managers:    1,
		Workers:     2,
		NodeMemory:  "1g",
		NodeCPUs:    "1",
		SSHAddress:  "127.0.0.1",
		SSHPortBase: 2200,
		AddressPool: "172.30.0.0/16",
		Privilege:   string(PrivilegeReduced),
		Day2Stack:   true,
		RoutingMesh: string(MeshAuto),
		AppPort:     8090,

		Day:               2,
		KindControlPlanes: 1,
		KindWorkers:       2,
		KindNodeImage:     DefaultKindNodeImage,
		KubeAPIPort:       6443,

		NodeKind: string(NodeKindDind),
		VMMemory: "1g",
		VMCPUs:   1,
		VMAccel:  string(AccelAuto),

		ParallelTeams:   4,
		ParallelStreams: 2,
	}
}
