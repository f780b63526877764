package infra

import (
	"slices"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/model/nodecontainer"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// A nodeSource is how a team's nodes come to exist in the stack and how they leave it: the
// one place in infra that asks what a node is (nodeSources.of). After it, the program and,
// from its connect stage on, the bootstrap see nodes that answer SSH.
//
// There are two: containerNodes (dind and VM nodes: a docker.Container per node on the
// team's Docker host, from model/nodecontainer) and machineNodes (existing hosts: a Machine
// component per node, whose deletion removes labfleet from it). Another way to get nodes,
// say cloud VMs from another Pulumi provider, is one more implementation, the setting that
// selects it (model/plan), and, if its nodes need preparing before labfleet can log in, a
// stage in bootstrap/team.go.
type nodeSource interface {
	// register adds the team's component and its nodes to the stack.
	register(ctx *pulumi.Context, t plan.Team) (*Team, error)
	// replacements are the team's nodes that exist with settings Pulumi can only change by
	// replacing them.
	replacements(t plan.Team, facts map[string]plan.HostFacts) []Replacement
	// outputWhere is what the teams output says of where the team's nodes are.
	outputWhere(t plan.Team) (host, network string)
}

// nodeSources are one run's sources. What registering needs of Pulumi (the Cohort, each
// host's provider, the teardown hook) is set by NewCohort; planning and exporting need none.
type nodeSources struct {
	containers *containerNodes
	machines   *machineNodes
}

func newNodeSources(p *plan.Plan, keys *sshkeys.Keys) nodeSources {
	return nodeSources{
		containers: &containerNodes{p: p, keys: keys, providers: map[string]*docker.Provider{}, images: map[string]pulumi.StringOutput{}},
		machines:   &machineNodes{},
	}
}

// of is the source of a team's nodes.
func (s nodeSources) of(t plan.Team) nodeSource {
	if t.OnMachines() {
		return s.machines
	}
	return s.containers
}

// containerNodes are node containers (dind or VM, as labfleet:nodeKind says) on the team's
// Docker host: its provider, the node image built there once, a network per team.
type containerNodes struct {
	p         *plan.Plan
	keys      *sshkeys.Keys
	parent    pulumi.Resource
	providers map[string]*docker.Provider    // by host
	images    map[string]pulumi.StringOutput // the node image's ID on each host, registered with its first team
}

func (c *containerNodes) register(ctx *pulumi.Context, t plan.Team) (*Team, error) {
	provider := c.providers[t.Host]
	image, ok := c.images[t.Host]
	if !ok {
		var err error
		if image, err = nodeImage(ctx, c.p, c.p.Host(t.Host), []pulumi.ResourceOption{pulumi.Parent(c.parent), pulumi.Provider(provider)}); err != nil {
			return nil, err
		}
		c.images[t.Host] = image
	}
	return NewTeam(ctx, c.p, t, image, c.keys, pulumi.Parent(c.parent), pulumi.Providers(provider))
}

func (c *containerNodes) replacements(t plan.Team, facts map[string]plan.HostFacts) []Replacement {
	var out []Replacement
	for _, n := range t.Nodes {
		i := slices.IndexFunc(facts[t.Host].Nodes, func(h plan.HostNode) bool { return h.Cohort == c.p.Cohort && h.Node == n.Name })
		if i < 0 {
			continue
		}
		want := nodecontainer.For(c.p, t, n, "", c.keys).Settings()
		if changes := nodecontainer.Changes(facts[t.Host].Nodes[i].Settings, want); len(changes) > 0 {
			out = append(out, Replacement{Node: n.Name, Changes: changes})
		}
	}
	return out
}

func (c *containerNodes) outputWhere(t plan.Team) (string, string) {
	return t.Host, t.Subnet.String()
}

// machineNodes are existing machines, reached over SSH; labfleet registers no Docker
// resource for them, and a machine's delete hook (teardown) removes labfleet from it.
type machineNodes struct {
	parent   pulumi.Resource
	teardown *pulumi.ResourceHook
}

func (m *machineNodes) register(ctx *pulumi.Context, t plan.Team) (*Team, error) {
	return newMachineTeam(ctx, t, m.teardown, pulumi.Parent(m.parent))
}

// replacements: nothing of a machine is ever replaced; labfleet only adds to it.
func (m *machineNodes) replacements(plan.Team, map[string]plan.HostFacts) []Replacement {
	return nil
}

// outputWhere: no Docker host, and no network of labfleet's: whatever connects the machines.
func (m *machineNodes) outputWhere(plan.Team) (string, string) {
	return outputs.MachinesHost, ""
}
