// Package infra holds labfleet's Pulumi resources: a Cohort of Teams of Nodes (containers on
// a Docker host) or Machines (existing hosts), each a ComponentResource so `pulumi preview`
// reads as a tree, a docker provider per host, and the program that wires the validated plan
// (model/plan) to them and to the SSH bootstrap (package bootstrap). It is the only package
// that registers Pulumi resources.
package infra

import (
	"context"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
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
// run, telling report how it goes, and removes labfleet from a deleted team's existing
// machines. The real one works over SSH (package bootstrap); tests inject their own.
type Bootstrapper interface {
	Bootstrap(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs bootstrap.LabImages, report bootstrap.Reporter) (map[string]bootstrap.TeamResult, error)
	TeardownMachines(ctx context.Context, team string, machines []bootstrap.Machine, signer ssh.Signer) error
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

// NewCohort registers each host's provider and images, every team (its nodes from their
// source: nodes.go), and the bootstrap. A team on existing machines has no Docker resource:
// each machine's component carries the hook that tears labfleet down from it; its lab
// images are built on the local engine and streamed over SSH.
func NewCohort(ctx *pulumi.Context, p *plan.Plan, keys *sshkeys.Keys, bootstrapper Bootstrapper, teardown *pulumi.ResourceHook, opts ...pulumi.ResourceOption) (*Cohort, error) {
	c := &Cohort{}
	if err := ctx.RegisterComponentResource("labfleet:index:Cohort", p.Cohort, c, opts...); err != nil {
		return nil, err
	}
	// Each host that has teams gets its own provider and lab images (teams on existing
	// machines are served by the local engine); a team's resources inherit its host's
	// provider.
	sources := newNodeSources(p, keys)
	sources.containers.parent, sources.machines.parent, sources.machines.teardown = c, c, teardown
	labImages := pulumi.Map{}
	for _, h := range p.Hosts {
		if len(p.TeamsServedBy(h.Name)) == 0 {
			continue
		}
		provider, err := docker.NewProvider(ctx, "host-"+h.Name, providerArgs(h.Engine), pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		sources.containers.providers[h.Name] = provider
		if labImages[h.Name], err = labImagesOn(ctx, p, h, []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(provider)}); err != nil {
			return nil, err
		}
	}
	// Every team, in plan order, from its nodes' source.
	var containers []pulumi.Resource
	for _, t := range p.Teams {
		team, err := sources.of(t).register(ctx, t)
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
		deps := []any{labImages.ToMapOutput()}
		for _, r := range containers {
			deps = append(deps, r.(*docker.Container).ID())
		}
		run := pulumi.All(deps...).ApplyTWithContext(ctx.Context(), func(goctx context.Context, v []any) (bootstrapRun, error) {
			ids := bootstrap.LabImages{}
			for host, images := range v[0].(map[string]any) {
				ids[host] = images.(map[string]string)
			}
			results, err := bootstrapper.Bootstrap(goctx, p, keys, ids, report)
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

// providerArgs is the docker provider for a host's engine. The local engine's leaves Host
// unset, so $DOCKER_HOST applies as it does to the docker CLI. TLS material stays secret.
func providerArgs(e plan.Engine) *docker.ProviderArgs {
	args := &docker.ProviderArgs{}
	if e.URL != "" {
		args.Host = pulumi.StringPtr(e.URL)
	}
	if len(e.SSHOpts) > 0 {
		args.SshOpts = pulumi.ToStringArray(e.SSHOpts)
	}
	if e.TLS != nil {
		args.CaMaterial = pulumi.ToSecret(pulumi.String(e.TLS.CA)).(pulumi.StringOutput)
		args.CertMaterial = pulumi.ToSecret(pulumi.String(e.TLS.Cert)).(pulumi.StringOutput)
		args.KeyMaterial = pulumi.ToSecret(pulumi.String(e.TLS.Key)).(pulumi.StringOutput)
	}
	return args
}

// resourceName names a host's copy of a per-host resource. The first host's keeps the bare
// name, so a cohort that began on one host keeps its resources when it adds hosts.
func resourceName(h plan.Host, name string) string {
	if h.Index == 0 {
		return name
	}
	return h.Name + "-" + name
}

// builder is BuildKit, which the provider drives through the Engine API (no buildx needed).
// The provider asks the legacy builder to keep its intermediate containers, so with it
// every build left stopped containers behind that `pulumi destroy` never removed.
const builder = docker.BuilderVersionBuilderBuildKit

// labImagesOn builds the Day-2 lab images on a host (when the Day-2 stack is on) and
// returns their image IDs there, by name.
func labImagesOn(ctx *pulumi.Context, p *plan.Plan, h plan.Host, opts []pulumi.ResourceOption) (pulumi.StringMapOutput, error) {
	ids := pulumi.StringMap{}
	if p.Day2.Enabled {
		for _, img := range day2.Images {
			built, err := docker.NewImage(ctx, resourceName(h, img.Name), &docker.ImageArgs{
				ImageName: pulumi.String(img.HostRef(p.Cohort)),
				SkipPush:  pulumi.Bool(true),
				Build: &docker.DockerBuildArgs{
					Context:        pulumi.String(day2.AppsContext),
					Dockerfile:     pulumi.String(day2.AppsContext + "/Dockerfile"),
					Target:         pulumi.String(img.Target),
					BuilderVersion: builder,
				},
			}, opts...)
			if err != nil {
				return pulumi.StringMapOutput{}, err
			}
			ids[img.Name] = built.RepoDigest
		}
	}
	return ids.ToStringMapOutput(), nil
}

// nodeImage builds labfleet's node image on a host, or refers to the configured one there.
// It returns the image ID the host's containers run.
func nodeImage(ctx *pulumi.Context, p *plan.Plan, h plan.Host, opts []pulumi.ResourceOption) (pulumi.StringOutput, error) {
	name := resourceName(h, "node-image")
	if !p.Image.Build {
		img, err := docker.NewRemoteImage(ctx, name, &docker.RemoteImageArgs{
			Name:        pulumi.String(p.Image.Ref),
			KeepLocally: pulumi.Bool(true),
		}, opts...)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return img.ImageId, nil
	}
	context, dockerfile := NodeImageContext, NodeImageContext+"/Dockerfile"
	if p.NodeKind == plan.NodeKindVM {
		context, dockerfile = VMImageContext, VMImageDockerfile
	}
	img, err := docker.NewImage(ctx, name, &docker.ImageArgs{
		ImageName: pulumi.String(p.Image.Ref),
		SkipPush:  pulumi.Bool(true),
		Build: &docker.DockerBuildArgs{
			Context:        pulumi.String(context),
			Dockerfile:     pulumi.String(dockerfile),
			BuilderVersion: builder,
		},
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// With SkipPush the repo digest is the local image ID.
	return img.RepoDigest, nil
}
