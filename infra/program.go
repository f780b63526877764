package infra

import (
	"errors"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/infra/handout"
	"github.com/labfleet/labfleet/infra/plan"
	"github.com/labfleet/labfleet/stacks/day3"
)

// Program is labfleet's Pulumi program: config → validated plan → placed on and checked
// against the Docker hosts → resources → swarm bootstrap → stack outputs. Nothing is
// registered unless the whole config is valid and fits the hosts.
func Program(bootstrapper Bootstrapper, host HostInspector) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, seed, err := LoadConfig(ctx)
		if err != nil {
			return err
		}
		p, err := plan.Build(cfg)
		if err != nil {
			return err
		}
		// Read every host, then place the teams for real: a team that lives on a host stays
		// there, since moving it would wipe it.
		hosts := inspected(p)
		facts := host.Facts(ctx.Context(), hosts)
		cfg.Current = plan.Placed(p.Cohort, hosts, facts)
		if p, err = plan.Build(cfg); err != nil {
			return err
		}
		ctx.Log.Info("preflight, before any work:\n"+p.PreflightTable(facts), nil)
		if err := p.CheckHosts(facts); err != nil {
			return err
		}
		keys, err := sshkeys.New(seed, p.Cohort)
		if err != nil {
			return err
		}
		if p.Day3.Prepare {
			// Render every team's kind config now, so a bad one stops before any resource.
			for _, t := range p.Teams {
				if _, err := day3.Render(p.Day3, t); err != nil {
					return err
				}
			}
		}
		for _, w := range p.Warnings {
			ctx.Log.Warn(w, nil)
		}
		cohort, err := NewCohort(ctx, p, keys, bootstrapper)
		if err != nil {
			return err
		}
		exportCohort(ctx, p, keys, cohort)
		if ctx.DryRun() {
			return nil
		}
		// Wait for the bootstrap, so that a failed team fails the run; the healthy teams'
		// outputs are exported all the same (Pulumi registers them after this returns).
		failure, err := internals.UnsafeAwaitOutput(ctx.Context(), cohort.Failure)
		if err != nil {
			return err
		}
		if msg, _ := failure.Value.(string); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
}

// inspected are the hosts read before planning: the cohort's, and the local engine even
// when labfleet:hosts leaves it out, so that teams already living there are not moved
// (placement then refuses the plan, naming them).
func inspected(p *plan.Plan) []plan.Host {
	for _, h := range p.Hosts {
		if h.Engine.Local() || h.Name == plan.LocalHost {
			return p.Hosts
		}
	}
	return append(slices.Clone(p.Hosts), plan.Host{Name: plan.LocalHost})
}

// exportCohort publishes what the instructor hands out. Private keys and join tokens go
// into separate secret outputs so the rest stays readable with `pulumi stack output`.
func exportCohort(ctx *pulumi.Context, p *plan.Plan, keys *sshkeys.Keys, c *Cohort) {
	teams := pulumi.Map{}
	studentKeys := pulumi.StringMap{}
	for _, t := range c.Teams {
		var nodes pulumi.Array
		for _, n := range handout.NodesFor(p, t.Plan, keys) {
			nodes = append(nodes, pulumi.Map{
				"name":       pulumi.String(n.Name),
				"role":       pulumi.String(n.Role),
				"ip":         pulumi.String(n.IP),
				"ssh":        pulumi.String(n.SSH),
				"sshCommand": pulumi.String(n.SSHCommand),
				"knownHost":  pulumi.String(n.KnownHost),
			})
		}
		teams[t.Plan.Name] = pulumi.Map{
			"host":        pulumi.String(t.Plan.Host),
			"nodes":       nodes,
			"sshUser":     pulumi.String(p.SSHUser),
			"network":     pulumi.String(t.Plan.Subnet.String()),
			"status":      t.Status,
			"managerAddr": t.ManagerAddr,
			"clusterId":   t.ClusterID,
			"routingMesh": t.RoutingMesh,
			"appUrls":     t.AppURLs,
			"kind":        t.Kind,
		}
		studentKeys[t.Plan.Name] = pulumi.String(keys.Student(t.Plan.Name).PrivateKeyPEM(p.SSHUser + "@" + t.Plan.Name))
	}
	ctx.Export("teams", teams)
	ctx.Export("bootstrapPlan", bootstrapIntent(p))
	ctx.Export("studentKeys", pulumi.ToSecret(studentKeys))
	ctx.Export("kubeconfigs", pulumi.ToSecret(c.Results.ApplyT(func(v any) map[string]string {
		out := map[string]string{}
		for team, r := range v.(map[string]bootstrap.TeamResult) {
			if r.Kind != nil && r.Kind.Kubeconfig != "" {
				out[team] = r.Kind.Kubeconfig
			}
		}
		return out
	})))
	ctx.Export("joinTokens", pulumi.ToSecret(c.Results.ApplyT(func(v any) map[string]map[string]string {
		out := map[string]map[string]string{}
		for team, r := range v.(map[string]bootstrap.TeamResult) {
			if r.Swarm.WorkerToken != "" {
				out[team] = map[string]string{"worker": r.Swarm.WorkerToken, "manager": r.Swarm.ManagerToken}
			}
		}
		return out
	})))
}
