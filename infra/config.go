package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"sigs.k8s.io/yaml"

	"github.com/labfleet/labfleet/model/plan"
)

// Secrets are the cohort's secret settings, kept out of the plan.
type Secrets struct {
	KeySeed    string // labfleet:keySeed
	MachineKey string // labfleet:machineKey, for a cohort on existing machines
}

// LoadConfig reads the cohort's labfleet:* keys. Pulumi fills in the defaults declared in
// Pulumi.yaml; plan.Defaults covers a key that is missing anyway (an older Pulumi.yaml).
// The machines of labfleet:machinesFrom are read from that stack's outputs here. It returns
// the configuration and the secrets, or an error naming the bad key.
func LoadConfig(ctx *pulumi.Context) (plan.Config, Secrets, error) {
	cfg := plan.Defaults(ctx.Stack())
	r := configReader{ctx: ctx}
	r.int("teams", &cfg.Teams)
	r.strings("teamNames", &cfg.TeamNames)
	r.int("managers", &cfg.Managers)
	r.int("workers", &cfg.Workers)
	r.string("nodeMemory", &cfg.NodeMemory)
	r.string("nodeCpus", &cfg.NodeCPUs)
	r.string("sshAddress", &cfg.SSHAddress)
	r.string("publicHost", &cfg.PublicHost)
	r.int("sshPortBase", &cfg.SSHPortBase)
	r.string("addressPool", &cfg.AddressPool)
	r.string("nodeImage", &cfg.NodeImage)
	r.string("privilege", &cfg.Privilege)
	r.bool("day2Stack", &cfg.Day2Stack)
	r.string("routingMesh", &cfg.RoutingMesh)
	r.int("appPort", &cfg.AppPort)
	r.int("day", &cfg.Day)
	r.bool("day3Prep", &cfg.Day3Prep)
	r.int("kindControlPlanes", &cfg.KindControlPlanes)
	r.int("kindWorkers", &cfg.KindWorkers)
	r.string("kindNodeImage", &cfg.KindNodeImage)
	r.int("kubeApiPort", &cfg.KubeAPIPort)
	r.stringMap("resetSwarms", &cfg.ResetSwarms)
	r.string("nodeKind", &cfg.NodeKind)
	r.string("vmMemory", &cfg.VMMemory)
	r.int("vmCpus", &cfg.VMCPUs)
	r.string("vmAccel", &cfg.VMAccel)
	decodeList(&r, "hosts", &cfg.Hosts, `a list of hosts, e.g. [{name: local}, {name: big2, docker: "ssh://admin@big2", maxTeams: 6}]`)
	r.stringMap("teamHosts", &cfg.TeamHosts)
	decodeList(&r, "machines", &cfg.Machines, "a list of machines, e.g. [{address: 10.0.0.11, user: admin, hostKey: \"ssh-ed25519 AAAA...\"}]")
	r.int("parallelTeams", &cfg.ParallelTeams)
	r.int("parallelStreams", &cfg.ParallelStreams)
	if from, ok := r.raw("machinesFrom"); ok && from != "" {
		if len(cfg.Machines) > 0 {
			r.fail("%s:machinesFrom and %s:machines are both set: keep one", plan.Namespace, plan.Namespace)
		} else if err := machinesFrom(ctx, from, &cfg.Machines); err != nil {
			r.fail("%s:machinesFrom: %v", plan.Namespace, err)
		}
	}
	if len(cfg.Machines) > 0 && len(r.problems) == 0 {
		keys, err := pinnedHostKeys(ctx)
		if err != nil {
			r.fail("reading the machines' pinned host keys from stack %s's machineHostKeys output: %v", ctx.Stack(), err)
		}
		cfg.PinnedHostKeys = keys
	}
	if len(r.problems) > 0 {
		return plan.Config{}, Secrets{}, errors.New("invalid cohort configuration:\n  - " + strings.Join(r.problems, "\n  - "))
	}
	if err := checkTLSKeysSecret(ctx, cfg.Hosts); err != nil {
		return plan.Config{}, Secrets{}, err
	}
	var secrets Secrets
	for key, dst := range map[string]*string{"keySeed": &secrets.KeySeed, "machineKey": &secrets.MachineKey} {
		full := plan.Namespace + ":" + key
		*dst, _ = ctx.GetConfig(full)
		if *dst != "" && !ctx.IsConfigSecret(full) {
			ctx.Log.Warn(full+" is stored in plain text in Pulumi."+ctx.Stack()+".yaml: set it again with --secret", nil)
		}
	}
	return cfg, secrets, nil
}

// HostKeysOutput is the stack output that pins each machine's SSH host key (by target) from
// the first contact on: the next run reads it back (pinnedHostKeys) before logging in.
const HostKeysOutput = "machineHostKeys"

// pinnedHostKeys reads this very stack's last HostKeysOutput: nothing on its first run.
func pinnedHostKeys(ctx *pulumi.Context) (map[string]string, error) {
	self := ctx.Organization() + "/" + ctx.Project() + "/" + ctx.Stack()
	ref, err := pulumi.NewStackReference(ctx, "pinned-host-keys", &pulumi.StackReferenceArgs{Name: pulumi.String(self)})
	if err != nil {
		return nil, err
	}
	out, err := internals.UnsafeAwaitOutput(ctx.Context(), ref.GetOutput(pulumi.String(HostKeysOutput)))
	if err != nil || out.Value == nil {
		return nil, err
	}
	keys := map[string]string{}
	raw, ok := out.Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a map of targets to keys", out.Value)
	}
	for target, v := range raw {
		if k, ok := v.(string); ok {
			keys[target] = k
		}
	}
	return keys, nil
}

// machinesFrom reads the `machines` output of another stack (one that created the VMs with
// any cloud provider), in the form of labfleet:machines. The read is known in preview too.
func machinesFrom(ctx *pulumi.Context, stack string, dst *[]plan.MachineConfig) error {
	ref, err := pulumi.NewStackReference(ctx, "machines-from", &pulumi.StackReferenceArgs{Name: pulumi.String(stack)})
	if err != nil {
		return err
	}
	out, err := internals.UnsafeAwaitOutput(ctx.Context(), ref.GetOutput(pulumi.String("machines")))
	if err != nil {
		return fmt.Errorf("reading stack %s: %w", stack, err)
	}
	if out.Value == nil {
		return fmt.Errorf("stack %s has no output named machines: export a list of {address, user, hostKey, team} there (see docs/machines.md)", stack)
	}
	raw, err := json.Marshal(out.Value)
	if err != nil {
		return err
	}
	if err := strictJSON(string(raw), dst); err != nil {
		return fmt.Errorf("stack %s's machines output: %v", stack, err)
	}
	return nil
}

// strictJSON decodes v into dst, refusing unknown fields: a misspelt one would silently
// fall back to a default.
func strictJSON(v string, dst any) error {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// configReader reads typed keys and collects every type error, so all are reported at once.
type configReader struct {
	ctx      *pulumi.Context
	problems []string
}

func (r *configReader) raw(key string) (string, bool) {
	return r.ctx.GetConfig(plan.Namespace + ":" + key)
}

func (r *configReader) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *configReader) string(key string, dst *string) {
	if v, ok := r.raw(key); ok {
		*dst = v
	}
}

func (r *configReader) int(key string, dst *int) {
	readAs(r, key, dst, strconv.Atoi, "a whole number", "<number>")
}

func (r *configReader) bool(key string, dst *bool) {
	readAs(r, key, dst, strconv.ParseBool, "true or false", "true")
}

// readAs parses a key's value, or records an error naming the key, the expected kind of
// value and the command that sets one.
func readAs[T any](r *configReader, key string, dst *T, parse func(string) (T, error), kind, example string) {
	v, ok := r.raw(key)
	if !ok {
		return
	}
	x, err := parse(v)
	if err != nil {
		r.fail("%s:%s: %q is not %s: pulumi config set %s:%s %s", plan.Namespace, key, v, kind, plan.Namespace, key, example)
		return
	}
	*dst = x
}

func (r *configReader) strings(key string, dst *[]string) {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		r.fail("%s:%s: %s is not a list of names: write it in Pulumi.%s.yaml as a YAML list, or pulumi config set --path '%s:%s[0]' red",
			plan.Namespace, key, v, r.ctx.Stack(), plan.Namespace, key)
	}
}

func (r *configReader) stringMap(key string, dst *map[string]string) {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		r.fail("%s:%s: %s is not a map of team names to values: pulumi config set --path '%s:%s.team1' <value>",
			plan.Namespace, key, v, plan.Namespace, key)
	}
}

// decodeList reads a key holding a list of objects (labfleet:hosts, labfleet:machines).
func decodeList[T any](r *configReader, key string, dst *[]T, example string) {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return
	}
	if err := strictJSON(v, dst); err != nil {
		r.fail("%s:%s: %v: write it in Pulumi.%s.yaml as %s", plan.Namespace, key, err, r.ctx.Stack(), example)
	}
}

func hasTLS(hosts []plan.HostConfig) bool {
	for _, h := range hosts {
		if h.TLS != nil {
			return true
		}
	}
	return false
}

// checkTLSKeysSecret refuses a host's TLS private key kept in plain text. Pulumi marks the
// whole `hosts` key secret as soon as one leaf is, so the check reads each leaf of the
// stack's settings file; where the hosts are not in that file (an environment, another
// backend's settings), it can only ask Pulumi about the key as a whole.
func checkTLSKeysSecret(ctx *pulumi.Context, hosts []plan.HostConfig) error {
	if !hasTLS(hosts) {
		return nil
	}
	file := "Pulumi." + ctx.Stack() + ".yaml"
	fix := fmt.Sprintf("set it again with pulumi config set --secret --path '%s:hosts[N].tls.key' \"$(cat key.pem)\"", plan.Namespace)
	settings, err := os.ReadFile(filepath.Join(ctx.RootDirectory(), file))
	plain, found := []string(nil), false
	if err == nil {
		plain, found, err = plainTLSKeys(settings, hosts)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	if !found && !ctx.IsConfigSecret(plan.Namespace+":hosts") {
		return fmt.Errorf("%s:hosts holds TLS client material in plain text: %s", plan.Namespace, fix)
	}
	if len(plain) > 0 {
		return fmt.Errorf("%s in %s is a TLS private key in plain text: %s", strings.Join(plain, " and "), file, fix)
	}
	return nil
}

// plainTLSKeys names the hosts[N].tls.key leaves of a stack settings file that hold a key
// in plain text (a secret leaf is {secure: ...}). found is false when the file does not
// set the hosts.
func plainTLSKeys(settings []byte, hosts []plan.HostConfig) (plain []string, found bool, err error) {
	var file struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal(settings, &file); err != nil {
		return nil, false, err
	}
	value, found := file.Config[plan.Namespace+":hosts"]
	if !found {
		return nil, false, nil
	}
	secure := func(v any) bool {
		m, ok := v.(map[string]any)
		_, has := m["secure"]
		return ok && has
	}
	if secure(value) {
		return nil, true, nil
	}
	list, _ := value.([]any) // a JSON string set without --path: every leaf is plain
	for i, h := range hosts {
		if h.TLS == nil || h.TLS.Key == "" {
			continue
		}
		var leaf any
		if i < len(list) {
			entry, _ := list[i].(map[string]any)
			tls, _ := entry["tls"].(map[string]any)
			leaf = tls["key"]
		}
		if !secure(leaf) {
			plain = append(plain, fmt.Sprintf("%s:hosts[%d].tls.key", plan.Namespace, i))
		}
	}
	return plain, true, nil
}
