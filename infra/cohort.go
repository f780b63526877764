// Package infra holds labfleet's Pulumi resources: a Cohort of Teams of Nodes, each a
// ComponentResource so `pulumi preview` reads as a tree, and the program that wires the
// validated plan (package plan) to them and to the SSH bootstrap (package bootstrap).
package infra

import (
	"context"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/infra/plan"
)

// NodeImageContext is the build context of labfleet's node image, relative to the project
// directory that Pulumi runs the program in.
const NodeImageContext = "infra/nodeimage"

// SwarmBootstrapper converges the teams' swarms once their node containers run. The real
// one works over SSH (bootstrap.Swarms); tests inject their own.
type SwarmBootstrapper interface {
	Swarms(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys) (map[string]swarm.Result, error)
}

// Cohort is every resource of one stack.
type Cohort struct {
	pulumi.ResourceState
	Teams []*Team
	// Swarms resolves to map[string]swarm.Result once every team converged. It is unknown
	// during preview: the bootstrap never runs then.
	Swarms pulumi.AnyOutput
}

// NewCohort registers the node image, every team, and the swarm bootstrap.
func NewCohort(ctx *pulumi.Context, p *plan.Plan, keys *sshkeys.Keys, bootstrapper SwarmBootstrapper, opts ...pulumi.ResourceOption) (*Cohort, error) {
	c := &Cohort{}
	if err := ctx.RegisterComponentResource("labfleet:index:Cohort", p.Cohort, c, opts...); err != nil {
		return nil, err
	}
	image, err := nodeImage(ctx, p, c)
	if err != nil {
		return nil, err
	}
	var containers []pulumi.Resource
	for _, t := range p.Teams {
		team, err := NewTeam(ctx, p, t, image, keys, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.Teams = append(c.Teams, team)
		for _, n := range team.Nodes {
			containers = append(containers, n.Container)
		}
	}

	if ctx.DryRun() {
		c.Swarms = pulumi.UnsafeUnknownOutput(containers).(pulumi.AnyOutput)
	} else {
		ids := make([]any, len(containers))
		for i, r := range containers {
			ids[i] = r.(*docker.Container).ID()
		}
		c.Swarms = pulumi.All(ids...).ApplyTWithContext(ctx.Context(), func(goctx context.Context, _ []any) (any, error) {
			return bootstrapper.Swarms(goctx, p, keys)
		}).(pulumi.AnyOutput)
	}
	for _, team := range c.Teams {
		if err := team.finish(ctx, c.Swarms); err != nil {
			return nil, err
		}
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{})
}

// nodeImage builds labfleet's node image, or refers to the configured one. It returns the
// image ID the containers run.
func nodeImage(ctx *pulumi.Context, p *plan.Plan, parent pulumi.Resource) (pulumi.StringOutput, error) {
	if !p.Image.Build {
		img, err := docker.NewRemoteImage(ctx, "node-image", &docker.RemoteImageArgs{
			Name:        pulumi.String(p.Image.Ref),
			KeepLocally: pulumi.Bool(true),
		}, pulumi.Parent(parent))
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return img.ImageId, nil
	}
	img, err := docker.NewImage(ctx, "node-image", &docker.ImageArgs{
		ImageName: pulumi.String(p.Image.Ref),
		SkipPush:  pulumi.Bool(true),
		Build: &docker.DockerBuildArgs{
			Context:        pulumi.String(NodeImageContext),
			Dockerfile:     pulumi.String(NodeImageContext + "/Dockerfile"),
			BuilderVersion: docker.BuilderVersionBuilderV1,
		},
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// With SkipPush the repo digest is the local image ID.
	return img.RepoDigest, nil
}
