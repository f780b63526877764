// Package infra holds labfleet's Pulumi resources: a Cohort of Teams of Nodes, each a
// ComponentResource so `pulumi preview` reads as a tree, and the program that wires the
// validated plan (package plan) to them and to the SSH bootstrap (package bootstrap).
package infra

import (
	"context"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Build contexts and Dockerfiles of labfleet's node images, relative to the project
// directory that Pulumi runs the program in. The VM image's context is infra/, since its
// guest shares the dind node's sshd configuration.
const (
	NodeImageContext  = "infra/nodeimage"
	VMImageContext    = "infra"
	VMImageDockerfile = "infra/vmimage/Dockerfile"
)

// Bootstrapper converges the teams' swarms (and the Day-2 lab) once their node containers
// run, telling report how it goes. The real one works over SSH (bootstrap.Cohort); tests
// inject their own.
type Bootstrapper interface {
	Bootstrap(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs map[string]string, report steps.Reporter) (map[string]bootstrap.TeamResult, error)
}

// Cohort is every resource of one stack.
type Cohort struct {
	pulumi.ResourceState
	Teams []*Team
	// Results resolves to map[string]bootstrap.TeamResult of every team that converged,
	// even when others failed, so their outputs are still exported. It is unknown during
	// preview: the bootstrap never runs then.
	Results pulumi.AnyOutput
	// Failure resolves to the bootstrap's error ("" when every team converged); Program
	// fails the run with it after the healthy teams' outputs are registered.
	Failure pulumi.StringOutput
}

// NewCohort registers the images, every team, and the bootstrap.
func NewCohort(ctx *pulumi.Context, p *plan.Plan, keys *sshkeys.Keys, bootstrapper Bootstrapper, opts ...pulumi.ResourceOption) (*Cohort, error) {
	c := &Cohort{}
	if err := ctx.RegisterComponentResource("labfleet:index:Cohort", p.Cohort, c, opts...); err != nil {
		return nil, err
	}
	image, err := nodeImage(ctx, p, c)
	if err != nil {
		return nil, err
	}
	labImages, err := labImages(ctx, p, c)
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
		c.Results = pulumi.UnsafeUnknownOutput(containers).(pulumi.AnyOutput)
	} else {
		// The bootstrap waits for every container, and for the lab images it streams.
		report := newPulumiReporter(ctx.Log, c)
		deps := []any{labImages}
		for _, r := range containers {
			deps = append(deps, r.(*docker.Container).ID())
		}
		run := pulumi.All(deps...).ApplyTWithContext(ctx.Context(), func(goctx context.Context, v []any) (bootstrapRun, error) {
			results, err := bootstrapper.Bootstrap(goctx, p, keys, v[0].(map[string]string), report)
			if results == nil {
				results = map[string]bootstrap.TeamResult{}
			}
			r := bootstrapRun{Results: results}
			if err != nil {
				r.Failure = err.Error()
			}
			return r, nil
		})
		c.Results = run.ApplyT(func(v any) any { return v.(bootstrapRun).Results }).(pulumi.AnyOutput)
		c.Failure = run.ApplyT(func(v any) string { return v.(bootstrapRun).Failure }).(pulumi.StringOutput)
	}
	for _, team := range c.Teams {
		if err := team.finish(ctx, c.Results); err != nil {
			return nil, err
		}
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{})
}

// bootstrapRun is what one bootstrap gave: the converged teams, and why the others failed.
type bootstrapRun struct {
	Results map[string]bootstrap.TeamResult
	Failure string
}

// labImages builds the Day-2 lab images (when the Day-2 stack is on) and returns their
// image IDs by name.
func labImages(ctx *pulumi.Context, p *plan.Plan, parent pulumi.Resource) (pulumi.StringMapOutput, error) {
	ids := pulumi.StringMap{}
	if p.Day2.Enabled {
		for _, img := range day2.Images {
			built, err := docker.NewImage(ctx, img.Name, &docker.ImageArgs{
				ImageName: pulumi.String(img.HostRef(p.Cohort)),
				SkipPush:  pulumi.Bool(true),
				Build: &docker.DockerBuildArgs{
					Context:        pulumi.String(day2.AppsContext),
					Dockerfile:     pulumi.String(day2.AppsContext + "/Dockerfile"),
					Target:         pulumi.String(img.Target),
					BuilderVersion: docker.BuilderVersionBuilderV1,
				},
			}, pulumi.Parent(parent))
			if err != nil {
				return pulumi.StringMapOutput{}, err
			}
			ids[img.Name] = built.RepoDigest
		}
	}
	return ids.ToStringMapOutput(), nil
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
	context, dockerfile := NodeImageContext, NodeImageContext+"/Dockerfile"
	if p.NodeKind == plan.NodeKindVM {
		context, dockerfile = VMImageContext, VMImageDockerfile
	}
	img, err := docker.NewImage(ctx, "node-image", &docker.ImageArgs{
		ImageName: pulumi.String(p.Image.Ref),
		SkipPush:  pulumi.Bool(true),
		Build: &docker.DockerBuildArgs{
			Context:        pulumi.String(context),
			Dockerfile:     pulumi.String(dockerfile),
			BuilderVersion: docker.BuilderVersionBuilderV1,
		},
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// With SkipPush the repo digest is the local image ID.
	return img.RepoDigest, nil
}
