package infra

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/model/nodecontainer"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// Team is one team's bridge network (its own subnet, so teams cannot reach each other)
// and its nodes.
type Team struct {
	pulumi.ResourceState
	Plan    plan.Team
	Network *docker.Network
	Nodes   []*Node

	Status      pulumi.StringOutput      `pulumi:"status"`
	ClusterID   pulumi.StringOutput      `pulumi:"clusterId"`
	ManagerAddr pulumi.StringOutput      `pulumi:"managerAddr"`
	RoutingMesh pulumi.StringOutput      `pulumi:"routingMesh"`
	AppURLs     pulumi.StringArrayOutput `pulumi:"appUrls"`
	Kind        pulumi.StringMapOutput   `pulumi:"kind"`
}

// MachinesOutput is the output in which a machine team's component listed its machines for
// the teardown hook, before each machine was a component of its own: the hook still reads
// it from the state of a cohort made then.
const MachinesOutput = "machines"

// Machine is one existing machine of a team: a component with no resource of its own whose
// outputs say how to reach it (machinesOf reads them back), and whose deletion runs the
// teardown hook on it. It is named after its node and its address, so a machine leaves the
// stack, and is torn down, when it leaves labfleet:machines (another machine at its node is
// another resource), when its team leaves the config, and on pulumi destroy --run-program.
type Machine struct {
	pulumi.ResourceState
}

// machineOutputs are the outputs of a Machine component that say how to reach it: written
// here, read back by machineOf when the teardown hook runs, from this one list.
var machineOutputs = []struct {
	key string
	of  func(*bootstrap.Machine) *string
}{
	{"node", func(m *bootstrap.Machine) *string { return &m.Node }},
	{"target", func(m *bootstrap.Machine) *string { return &m.Target }},
	{"user", func(m *bootstrap.Machine) *string { return &m.User }},
	{"hostKey", func(m *bootstrap.Machine) *string { return &m.HostKey }},
}

// newMachineTeam registers a team whose nodes are existing machines: a component with no
// Docker resource, and a Machine component under it for each machine.
func newMachineTeam(ctx *pulumi.Context, t plan.Team, teardown *pulumi.ResourceHook, opts ...pulumi.ResourceOption) (*Team, error) {
	team := &Team{Plan: t}
	if err := ctx.RegisterComponentResource("labfleet:index:Team", t.Name, team, opts...); err != nil {
		return nil, err
	}
	hooks := pulumi.ResourceHooks(&pulumi.ResourceHookBinding{BeforeDelete: []*pulumi.ResourceHook{teardown}})
	for _, n := range t.Nodes {
		m := bootstrap.MachineOf(n)
		machine := &Machine{}
		if err := ctx.RegisterComponentResource("labfleet:index:Machine", m.Node+"@"+m.Target, machine, pulumi.Parent(team), hooks); err != nil {
			return nil, err
		}
		outputs := pulumi.Map{"team": pulumi.String(t.Name)}
		for _, f := range machineOutputs {
			outputs[f.key] = pulumi.String(*f.of(&m))
		}
		if err := ctx.RegisterResourceOutputs(machine, outputs); err != nil {
			return nil, err
		}
	}
	return team, nil
}

// Node is one node container and its volumes (see nodecontainer.Spec.Mounts), which
// outlive it: a replaced container gets them back.
type Node struct {
	pulumi.ResourceState
	Plan      plan.Node
	Spec      nodecontainer.Spec
	Volumes   []*docker.Volume
	Container *docker.Container
}

// NewTeam registers a team's network and nodes.
func NewTeam(ctx *pulumi.Context, p *plan.Plan, t plan.Team, image pulumi.StringOutput, keys *sshkeys.Keys, opts ...pulumi.ResourceOption) (*Team, error) {
	team := &Team{Plan: t}
	if err := ctx.RegisterComponentResource("labfleet:index:Team", t.Name, team, opts...); err != nil {
		return nil, err
	}
	network, err := docker.NewNetwork(ctx, t.NetworkName, &docker.NetworkArgs{
		Name:   pulumi.String(t.NetworkName),
		Driver: pulumi.String("bridge"),
		IpamConfigs: docker.NetworkIpamConfigArray{docker.NetworkIpamConfigArgs{
			Subnet:  pulumi.String(t.Subnet.String()),
			Gateway: pulumi.String(t.Gateway.String()),
		}},
		Labels: networkLabels(p.Labels(t.Name, nil)),
	}, pulumi.Parent(team))
	if err != nil {
		return nil, err
	}
	team.Network = network
	for _, n := range t.Nodes {
		spec := nodecontainer.For(p, t, n, "", keys)
		node, err := NewNode(ctx, n, spec, image, network, pulumi.Parent(team))
		if err != nil {
			return nil, err
		}
		team.Nodes = append(team.Nodes, node)
	}
	return team, nil
}

// finish records the bootstrap's outputs on the team once it ran.
func (t *Team) finish(ctx *pulumi.Context, results pulumi.AnyOutput) error {
	name := t.Plan.Name
	// A team that failed has no result: its outputs stay empty and its status says so,
	// while every other team's outputs are still registered.
	team := results.ApplyT(func(v any) bootstrap.TeamResult {
		return v.(map[string]bootstrap.TeamResult)[name]
	}).(pulumi.AnyOutput)
	t.Status = results.ApplyT(func(v any) string {
		if _, ok := v.(map[string]bootstrap.TeamResult)[name]; ok {
			return "ready"
		}
		return "FAILED: see the pulumi up log for team " + name
	}).(pulumi.StringOutput)
	t.ClusterID = team.ApplyT(func(v any) string { return v.(bootstrap.TeamResult).Swarm.ClusterID }).(pulumi.StringOutput)
	t.ManagerAddr = team.ApplyT(func(v any) string { return v.(bootstrap.TeamResult).Swarm.ManagerAddr }).(pulumi.StringOutput)
	t.RoutingMesh = team.ApplyT(func(v any) string {
		if lab := v.(bootstrap.TeamResult).Lab; lab != nil {
			return string(lab.Mesh)
		}
		return ""
	}).(pulumi.StringOutput)
	t.AppURLs = team.ApplyT(func(v any) []string {
		if lab := v.(bootstrap.TeamResult).Lab; lab != nil {
			return lab.AppURLs
		}
		return []string{}
	}).(pulumi.StringArrayOutput)
	t.Kind = team.ApplyT(func(v any) map[string]string {
		return v.(bootstrap.TeamResult).KindOutput()
	}).(pulumi.StringMapOutput)
	outputs := pulumi.Map{
		"status":      t.Status,
		"clusterId":   t.ClusterID,
		"managerAddr": t.ManagerAddr,
		"routingMesh": t.RoutingMesh,
		"appUrls":     t.AppURLs,
		"kind":        t.Kind,
	}
	return ctx.RegisterResourceOutputs(t, outputs)
}

// NewNode registers a node's volume and container, rendered from its spec.
func NewNode(ctx *pulumi.Context, n plan.Node, spec nodecontainer.Spec, image pulumi.StringOutput, network *docker.Network, opts ...pulumi.ResourceOption) (*Node, error) {
	node := &Node{Plan: n, Spec: spec}
	if err := ctx.RegisterComponentResource("labfleet:index:Node", n.Name, node, opts...); err != nil {
		return nil, err
	}
	var volumes pulumi.StringArray
	for _, m := range spec.Mounts {
		volume, err := docker.NewVolume(ctx, m.Volume, &docker.VolumeArgs{
			Name:   pulumi.String(m.Volume),
			Labels: volumeLabels(spec.Labels),
		}, pulumi.Parent(node))
		if err != nil {
			return nil, err
		}
		node.Volumes = append(node.Volumes, volume)
		volumes = append(volumes, volume.Name)
	}
	container, err := docker.NewContainer(ctx, spec.Name, ContainerArgs(spec, image, network.Name, volumes),
		pulumi.Parent(node),
		// Stop the old container before starting its replacement: they share a name,
		// an address and a published port.
		pulumi.DeleteBeforeReplace(true),
		// A rebuilt node image must not silently replace every node and wipe the students'
		// work; the instructor rolls nodes deliberately with `pulumi up --replace <urn>`.
		// Docker reports networkMode differently across engine versions (pulumi-docker#1272).
		// After `pulumi refresh`, Docker's own spelling of the reduced mode comes back
		// (dropped capabilities as CAP_*, no systempaths entry among the security options):
		// seen for real, it replaced every node. The privilege mode still replaces nodes
		// through `privileged`, which flips whenever the mode does.
		pulumi.IgnoreChanges([]string{"image", "networkMode", "capabilities", "securityOpts"}),
	)
	if err != nil {
		return nil, err
	}
	node.Container = container
	return node, ctx.RegisterResourceOutputs(node, pulumi.Map{
		"name": pulumi.String(n.Name),
		"role": pulumi.String(string(n.Role)),
		"ip":   pulumi.String(n.IP.String()),
	})
}

// ContainerArgs renders a node spec as the provider's container arguments; volumes are the
// names of the volumes of its mounts, in order (outputs of their resources, so the
// container waits for them).
func ContainerArgs(s nodecontainer.Spec, image, network pulumi.StringInput, volumes pulumi.StringArray) *docker.ContainerArgs {
	args := &docker.ContainerArgs{
		Name:     pulumi.String(s.Name),
		Hostname: pulumi.String(s.Hostname),
		Image:    image,
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{docker.ContainerNetworksAdvancedArgs{
			Name:        network,
			Ipv4Address: pulumi.String(s.IP),
		}},
		Ports: docker.ContainerPortArray{docker.ContainerPortArgs{
			Internal: pulumi.Int(plan.NodeSSHPort),
			External: pulumi.Int(s.PublishPort),
			Ip:       pulumi.String(s.PublishIP),
			Protocol: pulumi.String("tcp"),
		}},
		Memory: pulumi.Int(s.MemoryMB),
		// Docker fills in swap when only memory is set, which would show as a diff forever.
		MemorySwap:          pulumi.Int(s.MemoryMB),
		Cpus:                pulumi.String(s.CPUs),
		Restart:             pulumi.String(s.Restart),
		StopTimeout:         pulumi.Int(s.StopGrace),
		DestroyGraceSeconds: pulumi.Int(s.StopGrace),
		Tmpfs:               pulumi.ToStringMap(s.Tmpfs),
		Labels:              containerLabels(s.Labels),
	}
	if len(s.Devices) > 0 {
		var devices docker.ContainerDeviceArray
		for _, d := range s.Devices {
			devices = append(devices, docker.ContainerDeviceArgs{HostPath: pulumi.String(d), ContainerPath: pulumi.String(d), Permissions: pulumi.String("rwm")})
		}
		args.Devices = devices
	}
	if len(s.Env) > 0 {
		var env pulumi.StringArray
		for _, k := range sortedKeys(s.Env) {
			env = append(env, pulumi.String(k+"="+s.Env[k]))
		}
		args.Envs = env
	}
	var mounts docker.ContainerMountArray
	for i, m := range s.Mounts {
		mounts = append(mounts, docker.ContainerMountArgs{
			Type:   pulumi.String("volume"),
			Source: volumes[i],
			Target: pulumi.String(m.Target),
		})
	}
	args.Mounts = mounts
	// Always explicit: the privilege mode must show up as a change of this field, because
	// capabilities and securityOpts are ignored for changes (see NewNode).
	args.Privileged = pulumi.Bool(s.Privileged)
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		args.Capabilities = &docker.ContainerCapabilitiesArgs{
			Adds:  pulumi.ToStringArray(s.CapAdd),
			Drops: pulumi.ToStringArray(s.CapDrop),
		}
	}
	if len(s.SecurityOpts) > 0 {
		args.SecurityOpts = pulumi.ToStringArray(s.SecurityOpts)
	}
	var uploads docker.ContainerUploadArray
	for _, u := range s.Uploads {
		var content pulumi.StringInput = pulumi.String(u.Content)
		if u.Secret {
			content = pulumi.ToSecret(content).(pulumi.StringOutput)
		}
		uploads = append(uploads, docker.ContainerUploadArgs{
			File:        pulumi.String(u.Path),
			Content:     content,
			Permissions: pulumi.String(u.Mode),
		})
	}
	args.Uploads = uploads
	return args
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func containerLabels(m map[string]string) docker.ContainerLabelArray {
	var out docker.ContainerLabelArray
	for _, k := range sortedKeys(m) {
		out = append(out, docker.ContainerLabelArgs{Label: pulumi.String(k), Value: pulumi.String(m[k])})
	}
	return out
}

func networkLabels(m map[string]string) docker.NetworkLabelArray {
	var out docker.NetworkLabelArray
	for _, k := range sortedKeys(m) {
		out = append(out, docker.NetworkLabelArgs{Label: pulumi.String(k), Value: pulumi.String(m[k])})
	}
	return out
}

func volumeLabels(m map[string]string) docker.VolumeLabelArray {
	var out docker.VolumeLabelArray
	for _, k := range sortedKeys(m) {
		out = append(out, docker.VolumeLabelArgs{Label: pulumi.String(k), Value: pulumi.String(m[k])})
	}
	return out
}
