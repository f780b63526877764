package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day3"
)

// HostInspector reads what each Docker host already has (engine, memory, kernel, networks,
// published ports, labfleet's own objects), so the plan can be placed and checked against
// them before any resource is registered. hostfacts.DockerHosts is the real one; the program's
// tests give their own.
type HostInspector interface {
	// Facts reads every host at once; a host it cannot read has its Err set.
	Facts(ctx context.Context, hosts []plan.Host) map[string]plan.HostFacts
	// Machines reads every existing machine of the plan at once, by target (host:port).
	Machines(ctx context.Context, p *plan.Plan, signer ssh.Signer) map[string]plan.MachineFacts
}

// Program is labfleet's Pulumi program: config → validated plan → placed on and checked
// against the Docker hosts → resources → swarm bootstrap → stack outputs. Nothing is
// registered unless the whole config is valid and fits the hosts.
//
// With LABFLEET_DESTROY=1 (what `make destroy` runs `pulumi destroy --run-program` with) it
// only registers the teardown hook of existing machines: Pulumi deletes everything else
// from its state, and nothing is converged first.
func Program(bootstrapper Bootstrapper, host HostInspector) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if os.Getenv(DestroyEnv) == "1" {
			if err := checkDestroying(); err != nil {
				return err
			}
			key, _ := ctx.GetConfig(plan.Namespace + ":machineKey")
			_, err := teardownHook(ctx, bootstrapper, key)
			return err
		}
		if err := checkPassphrase(ctx.Stack()); err != nil {
			return err
		}
		cfg, secrets, err := LoadConfig(ctx)
		if err != nil {
			return err
		}
		p, err := plan.Build(cfg)
		if err != nil {
			return err
		}
		keys, err := sshkeys.New(secrets.KeySeed, p.Cohort)
		if err != nil {
			return err
		}
		// Read every host (and machine), then plan for real around what exists: a team that
		// lives on a host stays there, and a team, node or machine keeps its slot, since
		// moving one would replace it.
		hosts := inspected(p)
		facts := host.Facts(ctx.Context(), hosts)
		cfg.Current = plan.Placed(p.Cohort, hosts, facts)
		cfg.Slots = plan.ExistingSlots(p, facts)
		var machines map[string]plan.MachineFacts
		if len(cfg.Machines) > 0 {
			if secrets.MachineKey == "" {
				return errors.New("labfleet:machineKey is not set: the cohort runs on existing machines, which labfleet logs in to as their admin user with this key: pulumi config set --secret labfleet:machineKey < ~/.ssh/lab_admin")
			}
			if err := keys.WithMachineKey(secrets.MachineKey); err != nil {
				return err
			}
			machines = host.Machines(ctx.Context(), p, keys.Machine())
			cfg.MachineNodes = plan.MachineNodes(machines)
			cfg.SeenHostKeys = plan.SeenHostKeys(machines)
		}
		if p, err = plan.Build(cfg); err != nil {
			return err
		}
		ctx.Log.Info("preflight, before any work:\n"+p.PreflightTable(facts), nil)
		if err := p.CheckHosts(facts); err != nil {
			return err
		}
		if machines != nil {
			ctx.Log.Info("preflight of the machines, before any work:\n"+p.MachinePreflightTable(machines), nil)
			if err := p.CheckMachines(machines); err != nil {
				return err
			}
		}
		if err := checkReplacements(ctx, p, keys, facts); err != nil {
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
		var teardown *pulumi.ResourceHook
		if len(cfg.Machines) > 0 {
			if teardown, err = teardownHook(ctx, bootstrapper, secrets.MachineKey); err != nil {
				return err
			}
		}
		cohort, err := NewCohort(ctx, p, keys, bootstrapper, teardown)
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

// DestroyEnv tells the program that `pulumi destroy --run-program` runs it (see Program).
const DestroyEnv = "LABFLEET_DESTROY"

// checkDestroying refuses DestroyEnv outside `pulumi destroy`: left in the environment, it
// would make `pulumi up` register nothing but the hook, and Pulumi would delete the whole
// cohort as no longer wanted.
func checkDestroying() error {
	command, err := pulumiCommand()
	if err != nil {
		return fmt.Errorf("%s is set, and labfleet could not tell which pulumi command runs it (%v): it only belongs to `make destroy`: unset %s and run that", DestroyEnv, err, DestroyEnv)
	}
	if isDestroy(command) {
		return nil
	}
	if command == "" {
		command = "something other than pulumi destroy"
	} else {
		command = "pulumi " + command
	}
	return fmt.Errorf("%s is set, but this is %s: with it the program keeps nothing and Pulumi would delete the whole cohort; it only belongs to `make destroy`, which sets it itself: unset %s", DestroyEnv, command, DestroyEnv)
}

// DevStack is the throwaway local stack `make up` makes by default; DevPassphrase, public in
// the Makefile and README, protects its secrets and no other stack's.
const (
	DevStack      = "dev"
	DevPassphrase = "labfleet-local"
)

// checkPassphrase refuses a cohort stack other than the dev stack whose secrets (keySeed,
// machineKey, TLS keys) would be protected by the public dev passphrase.
func checkPassphrase(stack string) error {
	if stack == DevStack || os.Getenv("PULUMI_CONFIG_PASSPHRASE") != DevPassphrase {
		return nil
	}
	return fmt.Errorf("stack %s: PULUMI_CONFIG_PASSPHRASE is %q, the public passphrase of the throwaway %s stack, so anyone could read this cohort's keys: set your own passphrase (or use a backend with its own secrets provider), and re-encrypt what is already set with pulumi stack change-secrets-provider --stack %s passphrase",
		stack, DevPassphrase, DevStack, stack)
}

// teardownHook registers the hook that removes labfleet from an existing machine when Pulumi
// deletes its Machine component: on `pulumi destroy --run-program` (Pulumi refuses a plain
// destroy of a stack with delete hooks, naming that flag), when its team leaves the config,
// and when it leaves labfleet:machines. It reads the machine from the component's last
// outputs, and logs in with machineKey.
func teardownHook(ctx *pulumi.Context, bootstrapper Bootstrapper, machineKey string) (*pulumi.ResourceHook, error) {
	gone, err := goneMachines(ctx)
	if err != nil {
		return nil, err
	}
	return ctx.RegisterResourceHook(TeardownHook, func(args *pulumi.ResourceHookArgs) error {
		warn := func(msg string) { _ = ctx.Log.Warn(msg, nil) }
		team := args.Name // a Team component of a cohort made before machines were components
		if v, ok := args.OldOutputs["team"]; ok && v.IsString() {
			team = v.StringValue()
		}
		return teardownTeam(ctx.Context(), bootstrapper, team, args.OldOutputs, machineKey, gone, warn)
	}, nil)
}

// goneMachines is labfleet:goneMachines: machines (address, address:port or node name) that
// no longer answer and will not come back, which the teardown leaves out. Without it, one
// dead machine would block pulumi destroy for the whole cohort.
func goneMachines(ctx *pulumi.Context) ([]string, error) {
	v, _ := ctx.GetConfig(plan.Namespace + ":goneMachines")
	if v == "" {
		return nil, nil
	}
	var gone []string
	if err := json.Unmarshal([]byte(v), &gone); err != nil {
		return nil, fmt.Errorf("%s:goneMachines: %s is not a list of machine addresses or node names: pulumi config set --path '%s:goneMachines[0]' 10.0.0.12",
			plan.Namespace, v, plan.Namespace)
	}
	for i := range gone {
		gone[i] = strings.TrimSpace(gone[i])
	}
	return gone, nil
}

// teardownTeam removes labfleet from the machines a deleted component's outputs give, except
// the ones listed as gone, which it names with what stays on them.
func teardownTeam(ctx context.Context, bootstrapper Bootstrapper, team string, outputs resource.PropertyMap, machineKey string, gone []string, warn func(string)) error {
	machines, err := machinesOf(outputs)
	if err != nil {
		return fmt.Errorf("team %s: %w", team, err)
	}
	var reachable []bootstrap.Machine
	for _, m := range machines {
		address, _, _ := strings.Cut(m.Target, ":")
		if slices.Contains(gone, m.Target) || slices.Contains(gone, address) || slices.Contains(gone, m.Node) {
			warn(fmt.Sprintf("team %s: machine %s (node %s) is in %s:goneMachines, so labfleet does not remove itself from it: should it ever come back, "+
				"what labfleet added is listed in its /etc/labfleet/machine (the student and labfleet accounts it created, the key lines and groups it added to accounts of the machine's own, sudoers files, /etc/labfleet)",
				team, m.Target, m.Node, plan.Namespace))
			continue
		}
		reachable = append(reachable, m)
	}
	if len(reachable) == 0 {
		return nil
	}
	signer, err := sshkeys.ParseMachineKey(machineKey)
	if err != nil {
		return fmt.Errorf("team %s: removing labfleet from its machines: %w", team, err)
	}
	err = bootstrapper.TeardownMachines(ctx, team, reachable, signer)
	// The way out is for a machine that does not answer, never for one that answers and
	// fails (that one still holds the student's account), nor for a cancelled run.
	if errors.Is(err, bootstrap.ErrUnreachable) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w; a machine that is gone for good (it will never answer again) can be left out: pulumi config set --path '%s:goneMachines[0]' <its address>, then run the command again",
			err, plan.Namespace)
	}
	return err
}

// TeardownHook is the name the teardown hook is registered, and recorded in state, under.
const TeardownHook = "labfleet-machines-teardown"

// machinesOf reads back the machine a Machine component's outputs describe, or the list a
// Team component's outputs held in a cohort made before machines were components.
func machinesOf(outputs resource.PropertyMap) ([]bootstrap.Machine, error) {
	if _, ok := outputs["target"]; ok {
		return []bootstrap.Machine{machineOf(outputs)}, nil
	}
	list, ok := outputs[MachinesOutput]
	if !ok {
		return nil, nil
	}
	if !list.IsArray() {
		return nil, fmt.Errorf("its %s output is not a list", MachinesOutput)
	}
	var out []bootstrap.Machine
	for _, v := range list.ArrayValue() {
		if !v.IsObject() {
			return nil, fmt.Errorf("its %s output holds %v", MachinesOutput, v)
		}
		out = append(out, machineOf(v.ObjectValue()))
	}
	return out, nil
}

func machineOf(o resource.PropertyMap) bootstrap.Machine {
	var m bootstrap.Machine
	for _, f := range machineOutputs {
		if x, ok := o[resource.PropertyKey(f.key)]; ok && x.IsString() {
			*f.of(&m) = x.StringValue()
		}
	}
	return m
}

// machineHostKeys is every machine's host key by target, as this run logs in with it: the
// stack keeps it, so a key first seen is pinned from then on (pinnedHostKeys).
func machineHostKeys(p *plan.Plan) pulumi.StringMap {
	keys := pulumi.StringMap{}
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			if n.Machine != nil && n.Machine.HostKey != "" {
				keys[n.Machine.Target()] = pulumi.String(n.Machine.HostKey)
			}
		}
	}
	return keys
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
	sources := newNodeSources(p, keys)
	for _, t := range c.Teams {
		var nodes pulumi.Array
		for _, n := range outputs.NodesFor(p, t.Plan, keys) {
			nodes = append(nodes, pulumi.Map{
				"name":       pulumi.String(n.Name),
				"role":       pulumi.String(n.Role),
				"ip":         pulumi.String(n.IP),
				"ssh":        pulumi.String(n.SSH),
				"sshCommand": pulumi.String(n.SSHCommand),
				"knownHost":  pulumi.String(n.KnownHost),
			})
		}
		host, network := sources.of(t.Plan).outputWhere(t.Plan)
		teams[t.Plan.Name] = pulumi.Map{
			"host":        pulumi.String(host),
			"nodes":       nodes,
			"sshUser":     pulumi.String(p.SSHUser),
			"network":     pulumi.String(network),
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
	if hostKeys := machineHostKeys(p); len(hostKeys) > 0 {
		ctx.Export(HostKeysOutput, hostKeys)
	}
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
