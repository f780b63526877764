package infra

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

const testSeed = "an-example-seed-of-at-least-32-characters"

type registered struct {
	typ, name, parent   string
	inputs              resource.PropertyMap
	deleteBeforeReplace bool
	ignoreChanges       []string
	provider            string   // "urn::id" of its explicit provider
	beforeDelete        []string // names of its before-delete hooks
}

// mocks records every registration; custom resources echo their inputs as state.
type mocks struct {
	mu         sync.Mutex
	resources  []registered
	ownOutputs map[string]any // what a StackReference to the program's own stack reads
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := registered{typ: args.TypeToken, name: args.Name, inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.parent = rpc.GetParent()
		r.deleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.ignoreChanges = rpc.GetIgnoreChanges()
		r.provider = rpc.GetProvider()
		r.beforeDelete = rpc.GetHooks().GetBeforeDelete()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	state := args.Inputs.Copy()
	switch args.TypeToken {
	case "docker:index/image:Image":
		state["repoDigest"] = resource.NewStringProperty("sha256:id-of-" + args.Name)
	case "docker:index/remoteImage:RemoteImage":
		state["imageId"] = resource.NewStringProperty("sha256:4567")
	case "pulumi:pulumi:StackReference":
		if args.Name == "pinned-host-keys" {
			state["outputs"] = resource.NewObjectProperty(resource.NewPropertyMapFromMap(m.ownOutputs))
			break
		}
		// The machines a cloud stack exports, as labfleet:machinesFrom reads them.
		state["outputs"] = resource.NewObjectProperty(resource.NewPropertyMapFromMap(map[string]any{
			"machines": []any{
				map[string]any{"address": "10.0.0.11", "user": "admin", "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfMachine11"},
				map[string]any{"address": "10.0.0.12", "user": "admin"},
			},
		}))
	}
	return args.Name + "-id", state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *mocks) ofType(typ string) []registered {
	var out []registered
	for _, r := range m.resources {
		if r.typ == typ {
			out = append(out, r)
		}
	}
	return out
}

// created are the registered resources but the stack references, which only read.
func (m *mocks) created() []registered {
	var out []registered
	for _, r := range m.resources {
		if r.typ != "pulumi:pulumi:StackReference" {
			out = append(out, r)
		}
	}
	return out
}

func (m *mocks) named(typ, name string) registered {
	for _, r := range m.ofType(typ) {
		if r.name == name {
			return r
		}
	}
	return registered{}
}

// fakeBootstrapper stands in for the SSH bootstrap and records whether it ran.
type fakeBootstrapper struct {
	mu          sync.Mutex
	calls       int
	plan        *plan.Plan
	labImageIDs bootstrap.LabImages
	fail        error
	failTeam    string // this team fails; the others converge
	teardowns   []string
	teardownErr error // what every teardown returns
}

func (f *fakeBootstrapper) TeardownMachines(_ context.Context, team string, machines []bootstrap.Machine, _ ssh.Signer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns = append(f.teardowns, fmt.Sprint(team, machines))
	return f.teardownErr
}

func (f *fakeBootstrapper) Bootstrap(_ context.Context, p *plan.Plan, _ *sshkeys.Keys, labImageIDs bootstrap.LabImages, report steps.Reporter) (map[string]bootstrap.TeamResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, t := range p.Teams {
		report.Status(t.Name, "join nodes ...")
		report.Info(t.Name, "join nodes: done in 1.0s")
	}
	report.Info("", "summary: every team ready")
	f.plan = p
	f.labImageIDs = labImageIDs
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[string]bootstrap.TeamResult{}
	for _, t := range p.Teams {
		if t.Name == f.failTeam {
			continue
		}
		out[t.Name] = bootstrap.TeamResult{
			Swarm: swarm.Result{ClusterID: "cluster-" + t.Name, ManagerAddr: t.Nodes[0].IP.String() + ":2377",
				WorkerToken: "SWMTKN-w-" + t.Name, ManagerToken: "SWMTKN-m-" + t.Name},
			Lab: &lab.Result{Mesh: plan.MeshHost, AppURLs: []string{"http://" + t.Nodes[0].IP.String() + ":8090/"}},
		}
		if p.Day3.Clusters {
			out[t.Name] = bootstrap.TeamResult{Swarm: out[t.Name].Swarm, Kind: &kindprep.Result{
				ClusterName: t.Name, HostNode: t.Nodes[0].Name, APIServer: "https://" + t.Nodes[0].IP.String() + ":6443", Kubeconfig: "apiVersion: v1 # " + t.Name}}
		}
	}
	if f.failTeam != "" {
		return out, fmt.Errorf("team %q: join nodes: node %s-w1: exit code 1", f.failTeam, f.failTeam)
	}
	return out, nil
}

// fakeHost stands in for the Docker hosts' and machines' facts: every host has the same
// ones, or the same error, but for those byHost names; every machine has the same facts.
type fakeHost struct {
	facts    plan.HostFacts
	err      error
	byHost   map[string]plan.HostFacts
	machines plan.MachineFacts
	// presents makes each machine present the host key "ssh-ed25519 AAAA<prefix><its address>".
	presents string
	// ownOutputs are the stack's own last outputs, as a StackReference to itself reads them:
	// not a fact of the hosts, but like them read from outside the program.
	ownOutputs map[string]any
}

func (f fakeHost) Machines(_ context.Context, p *plan.Plan, _ ssh.Signer) map[string]plan.MachineFacts {
	out := map[string]plan.MachineFacts{}
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			out[n.Machine.Target()] = f.machines
			if f.presents != "" {
				mf := f.machines
				mf.HostKey = "ssh-ed25519 AAAA" + f.presents + n.Machine.Address.String()
				out[n.Machine.Target()] = mf
			}
		}
	}
	return out
}

func (f fakeHost) Facts(_ context.Context, hosts []plan.Host) map[string]plan.HostFacts {
	out := map[string]plan.HostFacts{}
	for _, h := range hosts {
		out[h.Name] = f.facts
		if f.err != nil {
			out[h.Name] = plan.HostFacts{Err: f.err.Error()}
		}
		if hf, ok := f.byHost[h.Name]; ok {
			out[h.Name] = hf
		}
	}
	return out
}

type run struct {
	m       *mocks
	b       *fakeBootstrapper
	host    fakeHost
	exports map[string]internals.UnsafeAwaitOutputResult
	logs    []logLine
	err     error
}

// warnings are the warnings the program logged that contain part.
func (r run) warnings(part string) []string {
	var out []string
	for _, l := range r.logs {
		if l.warning && strings.Contains(l.msg, part) {
			out = append(out, l.msg)
		}
	}
	return out
}

// logLine is one message the program logged, with the URN of the resource it is shown on.
type logLine struct {
	msg, urn  string
	ephemeral bool
	warning   bool
	resource  pulumi.Resource
}

// logRecorder keeps what the program logs at info level, and passes everything on.
type logRecorder struct {
	pulumi.Log
	mu    sync.Mutex
	lines []logLine
}

func (l *logRecorder) Info(msg string, args *pulumi.LogArgs) error {
	l.mu.Lock()
	line := logLine{msg: msg}
	if args != nil {
		line.resource, line.ephemeral = args.Resource, args.Ephemeral
	}
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return l.Log.Info(msg, args)
}

func (l *logRecorder) Warn(msg string, args *pulumi.LogArgs) error {
	l.mu.Lock()
	l.lines = append(l.lines, logLine{msg: msg, warning: true})
	l.mu.Unlock()
	return l.Log.Warn(msg, args)
}

func runProgram(t *testing.T, dryRun bool, config map[string]string) run {
	t.Helper()
	return runProgramWith(t, &fakeBootstrapper{}, dryRun, config)
}

func runProgramWith(t *testing.T, b *fakeBootstrapper, dryRun bool, config map[string]string) run {
	t.Helper()
	return runProgramOn(t, fakeHost{}, b, dryRun, config)
}

func runProgramOn(t *testing.T, host fakeHost, b *fakeBootstrapper, dryRun bool, config map[string]string) run {
	t.Helper()
	r := run{m: &mocks{ownOutputs: host.ownOutputs}, b: b, host: host, exports: map[string]internals.UnsafeAwaitOutputResult{}}
	cfg := map[string]string{"labfleet:keySeed": testSeed}
	for k, v := range config {
		cfg[k] = v
	}
	r.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		logs := &logRecorder{Log: ctx.Log}
		ctx.Log = logs
		// Exports are registered even when the program fails (a failed team): read them too.
		programErr := Program(r.b, r.host)(ctx)
		for _, l := range logs.lines {
			if l.resource != nil {
				urn, err := internals.UnsafeAwaitOutput(ctx.Context(), l.resource.URN())
				if err != nil {
					return err
				}
				l.urn = string(urn.Value.(pulumi.URN))
			}
			r.logs = append(r.logs, l)
		}
		for k, v := range ctx.GetCurrentExportMap() {
			res, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return err
			}
			r.exports[k] = res
		}
		return programErr
	}, pulumi.WithMocks("labfleet", "spring", r.m), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = []string{"labfleet:keySeed"}
		ri.DryRun = dryRun
	})
	return r
}

// Preview reads the hosts and machines (HostInspector) like an update, but never runs the
// bootstrap; the tree it registers is the update's.
func TestPreviewRegistersTheTreeAndDoesNotBootstrap(t *testing.T) {
	r := runProgram(t, true, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.b.calls != 0 {
		t.Fatalf("the bootstrap ran %d times during preview", r.b.calls)
	}
	counts := map[string]int{
		"labfleet:index:Cohort":                1,
		"labfleet:index:Team":                  2,
		"labfleet:index:Node":                  6,
		"docker:index/image:Image":             3, // node, memory-leak-app, improved-app
		"docker:index/network:Network":         2,
		"docker:index/volume:Volume":           12, // each node's /var/lib/docker and the student's home
		"docker:index/container:Container":     6,
		"docker:index/remoteImage:RemoteImage": 0,
	}
	for typ, want := range counts {
		if got := len(r.m.ofType(typ)); got != want {
			t.Errorf("%s: %d registered, want %d", typ, got, want)
		}
	}
	// The tree: cohort > team > node > container, so preview reads per team.
	c := r.m.named("docker:index/container:Container", "spring-team2-w1")
	if !strings.HasSuffix(c.parent, "labfleet:index:Node::team2-w1") {
		t.Errorf("container parent = %s", c.parent)
	}
	node := r.m.named("labfleet:index:Node", "team2-w1")
	if !strings.HasSuffix(node.parent, "labfleet:index:Team::team2") {
		t.Errorf("node parent = %s", node.parent)
	}
	if tm := r.m.named("labfleet:index:Team", "team2"); !strings.HasSuffix(tm.parent, "labfleet:index:Cohort::spring") {
		t.Errorf("team parent = %s", tm.parent)
	}
	// Cluster IDs and tokens come from the bootstrap, so they are unknown in preview.
	if r.exports["joinTokens"].Known {
		t.Error("join tokens are known during preview")
	}
}

func TestContainersNetworksAndVolumes(t *testing.T) {
	r := runProgram(t, true, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	net := r.m.named("docker:index/network:Network", "spring-team2")
	ipam := net.inputs["ipamConfigs"].ArrayValue()[0].ObjectValue()
	if net.inputs["name"].StringValue() != "spring-team2" || ipam["subnet"].StringValue() != "172.30.1.0/24" || ipam["gateway"].StringValue() != "172.30.1.1" {
		t.Errorf("network inputs = %v", net.inputs)
	}
	vol := r.m.named("docker:index/volume:Volume", "spring-team2-w1-docker")
	if vol.inputs["name"].StringValue() != "spring-team2-w1-docker" {
		t.Errorf("volume = %v", vol.inputs)
	}

	c := r.m.named("docker:index/container:Container", "spring-team2-w1")
	in := c.inputs
	str := func(k string) string { return in[resource.PropertyKey(k)].StringValue() }
	if str("name") != "spring-team2-w1" || str("hostname") != "team2-w1" || str("image") != "sha256:id-of-node-image" {
		t.Errorf("name/hostname/image = %s %s %s", str("name"), str("hostname"), str("image"))
	}
	na := in["networksAdvanced"].ArrayValue()[0].ObjectValue()
	if na["name"].StringValue() != "spring-team2" || na["ipv4Address"].StringValue() != "172.30.1.11" {
		t.Errorf("network attachment = %v", na)
	}
	port := in["ports"].ArrayValue()[0].ObjectValue()
	if port["internal"].NumberValue() != 22 || port["external"].NumberValue() != 2211 || port["ip"].StringValue() != "127.0.0.1" {
		t.Errorf("port = %v", port)
	}
	mounts := in["mounts"].ArrayValue()
	for i, want := range [][2]string{{"spring-team2-w1-docker", "/var/lib/docker"}, {"spring-team2-w1-home", "/home/student"}} {
		m := mounts[i].ObjectValue()
		if m["source"].StringValue() != want[0] || m["target"].StringValue() != want[1] || m["type"].StringValue() != "volume" {
			t.Errorf("mount %d = %v, want %s at %s", i, m, want[0], want[1])
		}
	}
	if home := r.m.named("docker:index/volume:Volume", "spring-team2-w1-home"); !strings.HasSuffix(home.parent, "labfleet:index:Node::team2-w1") {
		t.Errorf("the home volume's parent is %s", home.parent)
	}
	if in["memory"].NumberValue() != 1024 || in["memorySwap"].NumberValue() != 1024 || str("cpus") != "1.0" {
		t.Errorf("limits = %v %v %v", in["memory"], in["memorySwap"], in["cpus"])
	}
	if str("restart") != "unless-stopped" || in["destroyGraceSeconds"].NumberValue() != 20 {
		t.Errorf("restart/grace = %v %v", in["restart"], in["destroyGraceSeconds"])
	}
	labels := map[string]string{}
	for _, l := range in["labels"].ArrayValue() {
		o := l.ObjectValue()
		labels[o["label"].StringValue()] = o["value"].StringValue()
	}
	want := map[string]string{"labfleet.cohort": "spring", "labfleet.team": "team2", "labfleet.node": "team2-w1", "labfleet.role": "worker"}
	if fmt.Sprint(labels) != fmt.Sprint(want) {
		t.Errorf("labels = %v", labels)
	}
	// Reduced privilege mode by default.
	caps := in["capabilities"].ObjectValue()
	if fmt.Sprint(caps["adds"].ArrayValue()) != "[{ALL}]" || fmt.Sprint(caps["drops"].ArrayValue()) != "[{CAP_SYS_RESOURCE}]" {
		t.Errorf("capabilities = %v", caps)
	}
	if v, ok := in["privileged"]; !ok || v.BoolValue() {
		t.Error("privileged must be explicitly false in reduced mode, so switching modes replaces nodes")
	}
	// The host key is uploaded as a secret; the authorized keys (the team's, labfleet's own)
	// are public.
	uploads := in["uploads"].ArrayValue()
	if len(uploads) != 3 {
		t.Fatalf("uploads = %v", uploads)
	}
	hostKey := uploads[0].ObjectValue()
	if hostKey["file"].StringValue() != "/etc/labfleet/ssh_host_ed25519_key" || !hostKey["content"].IsSecret() || hostKey["permissions"].StringValue() != "0600" {
		t.Errorf("host key upload = %v", hostKey)
	}
	if auth := uploads[1].ObjectValue(); auth["content"].IsSecret() || !strings.HasPrefix(auth["content"].StringValue(), "ssh-ed25519 ") {
		t.Errorf("authorized_keys upload = %v", auth)
	}
	if admin := uploads[2].ObjectValue(); admin["file"].StringValue() != "/etc/labfleet/admin_authorized_keys" ||
		!strings.HasSuffix(strings.TrimSpace(admin["content"].StringValue()), " labfleet@spring") || admin["content"].StringValue() == uploads[1].ObjectValue()["content"].StringValue() {
		t.Errorf("admin key upload = %v", admin)
	}
	if !c.deleteBeforeReplace || fmt.Sprint(c.ignoreChanges) != "[image networkMode capabilities securityOpts]" {
		t.Errorf("options: deleteBeforeReplace=%v ignoreChanges=%v", c.deleteBeforeReplace, c.ignoreChanges)
	}
}

func TestConfigShapesTheGraph(t *testing.T) {
	r := runProgram(t, true, map[string]string{
		"labfleet:teams":       "3",
		"labfleet:teamNames":   `["red","green","blue"]`,
		"labfleet:managers":    "3",
		"labfleet:workers":     "1",
		"labfleet:privilege":   "privileged",
		"labfleet:nodeImage":   "example/node:1",
		"labfleet:sshPortBase": "3000",
		"labfleet:nodeMemory":  "512m",
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := len(r.m.ofType("docker:index/container:Container")); got != 12 {
		t.Errorf("containers = %d, want 12", got)
	}
	if len(r.m.ofType("docker:index/image:Image")) != 2 || len(r.m.ofType("docker:index/remoteImage:RemoteImage")) != 1 {
		t.Error("a configured nodeImage must not be built (only the two lab images are)")
	}
	c := r.m.named("docker:index/container:Container", "spring-blue-w1").inputs
	if !c["privileged"].BoolValue() || c["capabilities"].HasValue() || c["image"].StringValue() != "sha256:4567" {
		t.Errorf("privileged=%v caps=%v image=%v", c["privileged"], c["capabilities"], c["image"])
	}
	if p := c["ports"].ArrayValue()[0].ObjectValue()["external"].NumberValue(); p != 3023 {
		t.Errorf("blue-w1 port = %v, want 3023", p)
	}
	if c["memory"].NumberValue() != 512 {
		t.Errorf("memory = %v", c["memory"])
	}
}

func TestUpRunsTheBootstrapOnceAndExportsItsResult(t *testing.T) {
	r := runProgram(t, false, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.b.calls != 1 || r.b.plan.Cohort != "spring" || len(r.b.plan.Teams) != 2 {
		t.Fatalf("bootstrap calls = %d, plan = %+v", r.b.calls, r.b.plan)
	}
	teams := r.exports["teams"]
	if teams.Secret {
		t.Error("the teams output is secret; only keys and tokens should be")
	}
	team2 := teams.Value.(map[string]any)["team2"].(map[string]any)
	if team2["clusterId"] != "cluster-team2" || team2["managerAddr"] != "172.30.1.10:2377" || team2["sshUser"] != "student" ||
		team2["routingMesh"] != "host" || fmt.Sprint(team2["appUrls"]) != "[http://172.30.1.10:8090/]" {
		t.Errorf("team2 = %v", team2)
	}
	if want := map[string]string{"memory-leak-app": "sha256:id-of-memory-leak-app", "improved-app": "sha256:id-of-improved-app"}; !maps.Equal(r.b.labImageIDs["local"], want) || len(r.b.labImageIDs) != 1 {
		t.Errorf("lab image IDs = %v", r.b.labImageIDs)
	}
	nodes := team2["nodes"].([]any)
	w2 := nodes[2].(map[string]any)
	if w2["name"] != "team2-w2" || w2["role"] != "worker" || w2["ip"] != "172.30.1.12" || w2["ssh"] != "127.0.0.1:2212" ||
		w2["sshCommand"] != "ssh -i team2.key -p 2212 student@127.0.0.1" || !strings.HasPrefix(w2["knownHost"].(string), "[127.0.0.1]:2212 ssh-ed25519 ") {
		t.Errorf("node = %v", w2)
	}
	keys := r.exports["studentKeys"]
	if !keys.Secret || !strings.Contains(keys.Value.(map[string]string)["team1"], "OPENSSH PRIVATE KEY") {
		t.Errorf("student keys: secret=%v", keys.Secret)
	}
	tokens := r.exports["joinTokens"]
	if !tokens.Secret || tokens.Value.(map[string]map[string]string)["team1"]["worker"] != "SWMTKN-w-team1" {
		t.Errorf("join tokens: secret=%v value=%v", tokens.Secret, tokens.Value)
	}
}

func TestDay2OffBuildsNoLabImages(t *testing.T) {
	r := runProgram(t, false, map[string]string{"labfleet:day2Stack": "false"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if n := len(r.m.ofType("docker:index/image:Image")); n != 1 {
		t.Errorf("%d images built, want only the node image", n)
	}
	lab := r.m.named("docker:index/image:Image", "improved-app")
	if lab.name != "" {
		t.Error("improved-app built with the Day-2 stack off")
	}
	if r.b.plan.Day2.Enabled || len(r.b.labImageIDs["local"]) != 0 {
		t.Errorf("bootstrap got day2 %+v, images %v", r.b.plan.Day2, r.b.labImageIDs)
	}
}

func TestLabImagesAreBuiltFromTheAppsDockerfile(t *testing.T) {
	r := runProgram(t, true, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, name := range []string{"memory-leak-app", "improved-app"} {
		img := r.m.named("docker:index/image:Image", name)
		build := img.inputs["build"].ObjectValue()
		if img.inputs["imageName"].StringValue() != "spring-"+name+":latest" || build["context"].StringValue() != "stacks/apps" ||
			build["target"].StringValue() != name || !img.inputs["skipPush"].BoolValue() {
			t.Errorf("%s inputs = %v", name, img.inputs)
		}
	}
}

func TestDay3ExportsKubeconfigsAsSecrets(t *testing.T) {
	r := runProgram(t, false, map[string]string{"labfleet:day": "3", "labfleet:privilege": "privileged", "labfleet:nodeMemory": "3g", "labfleet:day2Stack": "false"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.b.plan.Day3.Clusters || !r.b.plan.Day3.Prepare {
		t.Errorf("day3 = %+v", r.b.plan.Day3)
	}
	kc := r.exports["kubeconfigs"]
	if !kc.Secret || kc.Value.(map[string]string)["team2"] != "apiVersion: v1 # team2" {
		t.Errorf("kubeconfigs: secret=%v value=%v", kc.Secret, kc.Value)
	}
	kind := r.exports["teams"].Value.(map[string]any)["team1"].(map[string]any)["kind"].(map[string]string)
	if kind["state"] != "running" || kind["apiServer"] != "https://172.30.0.10:6443" || kind["hostNode"] != "team1-m1" {
		t.Errorf("kind = %v", kind)
	}
}

func TestDay3NeedsMemoryBeforeAnythingIsCreated(t *testing.T) {
	r := runProgram(t, true, map[string]string{"labfleet:day": "3"})
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:nodeMemory") || len(r.m.resources) != 0 {
		t.Fatalf("err = %v, %d resources", r.err, len(r.m.resources))
	}
}

func TestBootstrapFailureFailsTheUpdate(t *testing.T) {
	r := run{m: &mocks{}, b: &fakeBootstrapper{fail: fmt.Errorf(`team "team2": join nodes: node team2-w1: exit code 1`)}}
	err := pulumi.RunErr(Program(r.b, fakeHost{}), pulumi.WithMocks("labfleet", "spring", r.m), func(ri *pulumi.RunInfo) {
		ri.Config = map[string]string{"labfleet:keySeed": testSeed}
	})
	if err == nil || !strings.Contains(err.Error(), "team2-w1") {
		t.Fatalf("err = %v", err)
	}
}

// One broken team fails the run, but never hides the others: their outputs are exported
// and correct, and the failed team's status says what happened.
func TestAFailedTeamFailsTheRunButTheOthersAreExported(t *testing.T) {
	r := runProgramWith(t, &fakeBootstrapper{failTeam: "team2"}, false, map[string]string{"labfleet:day": "3", "labfleet:nodeMemory": "3g"})
	if r.err == nil || !strings.Contains(r.err.Error(), `team "team2": join nodes: node team2-w1`) {
		t.Fatalf("err = %v", r.err)
	}
	teams := r.exports["teams"].Value.(map[string]any)
	t1, t2 := teams["team1"].(map[string]any), teams["team2"].(map[string]any)
	if t1["status"] != "ready" || t1["clusterId"] != "cluster-team1" || len(t1["nodes"].([]any)) != 3 {
		t.Errorf("team1 = %v", t1)
	}
	if !strings.HasPrefix(t2["status"].(string), "FAILED") || t2["clusterId"] != "" || len(t2["nodes"].([]any)) != 3 {
		t.Errorf("team2 = %v", t2)
	}
	if keys := fmt.Sprint(r.exports["studentKeys"].Value); !strings.Contains(keys, "team1:-----BEGIN") || !strings.Contains(keys, "team2:-----BEGIN") || !r.exports["studentKeys"].Secret {
		t.Errorf("student keys exported: %v", r.exports["studentKeys"].Secret)
	}
	if tokens := fmt.Sprint(r.exports["joinTokens"].Value); tokens != "map[team1:map[manager:SWMTKN-m-team1 worker:SWMTKN-w-team1]]" {
		t.Errorf("join tokens %v", tokens)
	}
	if kc := fmt.Sprint(r.exports["kubeconfigs"].Value); kc != "map[team1:apiVersion: v1 # team1]" {
		t.Errorf("kubeconfigs %v", kc)
	}
}

// A second cohort on the same host with the default pool is refused before anything is
// registered, naming the cohort that holds it; so is a host that cannot be reached.
func TestTheHostIsCheckedBeforeAnyResource(t *testing.T) {
	other := fakeHost{facts: plan.HostFacts{Networks: []plan.HostNetwork{{Name: "autumn-team2", Cohort: "autumn", Subnets: []netip.Prefix{netip.MustParsePrefix("172.30.1.0/24")}}}}}
	r := runProgramOn(t, other, &fakeBootstrapper{}, true, nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:addressPool") || !strings.Contains(r.err.Error(), `cohort "autumn"`) || len(r.m.resources) != 0 {
		t.Fatalf("err = %v, %d resources", r.err, len(r.m.resources))
	}
	r = runProgramOn(t, fakeHost{err: fmt.Errorf("docker info: Cannot connect to the Docker daemon")}, &fakeBootstrapper{}, true, nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "host local: cannot reach its Docker engine (the local engine): docker info: Cannot connect") || len(r.m.resources) != 0 {
		t.Errorf("an unreachable host: %v, %d resources", r.err, len(r.m.resources))
	}
}

// Every bad input is refused before a single resource is registered, with a message that
// names the key (and, in model/plan's tests, the fix).
func TestBadConfigRegistersNothing(t *testing.T) {
	for name, cfg := range map[string]map[string]string{
		"zero teams":                   {"labfleet:teams": "0"},
		"negative teams":               {"labfleet:teams": "-2"},
		"too many teams":               {"labfleet:teams": "101"},
		"teams not int":                {"labfleet:teams": "two"},
		"names not list":               {"labfleet:teamNames": "red,blue"},
		"names and count disagree":     {"labfleet:teamNames": `["red","blue","green"]`},
		"uppercase team name":          {"labfleet:teamNames": `["Red","blue"]`},
		"short seed":                   {"labfleet:keySeed": "tooshort"},
		"zero managers":                {"labfleet:managers": "0"},
		"managers not int":             {"labfleet:managers": "one"},
		"negative workers":             {"labfleet:workers": "-1"},
		"too many nodes":               {"labfleet:workers": "12"},
		"bad memory":                   {"labfleet:nodeMemory": "huge"},
		"tiny memory":                  {"labfleet:nodeMemory": "64m"},
		"absurd memory":                {"labfleet:nodeMemory": "9t"},
		"cpus NaN":                     {"labfleet:nodeCpus": "NaN"},
		"cpus below 0.01":              {"labfleet:nodeCpus": "0.001"},
		"cpus absurd":                  {"labfleet:nodeCpus": "1000"},
		"cpus negative":                {"labfleet:nodeCpus": "-1"},
		"ssh address not an IP":        {"labfleet:sshAddress": "localhost"},
		"public host with a space":     {"labfleet:publicHost": "lab host"},
		"public host with a newline":   {"labfleet:publicHost": "lab\nHost x"},
		"public host like an option":   {"labfleet:publicHost": "-oProxyCommand=x"},
		"ssh ports privileged":         {"labfleet:sshPortBase": "22"},
		"ssh ports not int":            {"labfleet:sshPortBase": "22xx"},
		"ssh ports ephemeral":          {"labfleet:sshPortBase": "40000"},
		"overlapping pool":             {"labfleet:addressPool": "172.30.0.0/30"},
		"pool on loopback":             {"labfleet:addressPool": "127.0.0.0/16"},
		"pool public":                  {"labfleet:addressPool": "8.8.0.0/16"},
		"pool host bits":               {"labfleet:addressPool": "172.30.0.1/16"},
		"bad node image":               {"labfleet:nodeImage": "My Image"},
		"unknown privilege":            {"labfleet:privilege": "root"},
		"day2Stack not bool":           {"labfleet:day2Stack": "yes please"},
		"unknown routing mesh":         {"labfleet:routingMesh": "vip"},
		"app port of the course":       {"labfleet:appPort": "8080"},
		"app port ephemeral":           {"labfleet:appPort": "45000"},
		"app port on kind's NodePort":  {"labfleet:appPort": "30080"},
		"unknown day":                  {"labfleet:day": "4"},
		"day3Prep not bool":            {"labfleet:day3Prep": "maybe"},
		"no kind control plane":        {"labfleet:kindControlPlanes": "0"},
		"too many kind workers":        {"labfleet:kindWorkers": "9"},
		"kind image by digest":         {"labfleet:kindNodeImage": "kindest/node@sha256:9f1c4d2a7e8b3c5d6f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f506"},
		"api port on the app port":     {"labfleet:kubeApiPort": "8090"},
		"api port on kind's NodePort":  {"labfleet:kubeApiPort": "30443"},
		"reset of an unknown team":     {"labfleet:resetSwarms": `{"team9":"abcdefghijklmnopqrstuvwxy"}`},
		"reset without a cluster ID":   {"labfleet:resetSwarms": `{"team1":"now"}`},
		"resets not a map":             {"labfleet:resetSwarms": `["team1"]`},
		"no teams at once":             {"labfleet:parallelTeams": "0"},
		"image streams not int":        {"labfleet:parallelStreams": "many"},
		"two type errors at once":      {"labfleet:teams": "x", "labfleet:workers": "y"},
		"a type and a value error":     {"labfleet:managers": "z", "labfleet:kindWorkers": "x9"},
		"day 3 with too little memory": {"labfleet:day": "3", "labfleet:nodeMemory": "1g"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runProgram(t, true, cfg)
			if r.err == nil {
				t.Fatal("accepted")
			}
			if len(r.m.resources) != 0 {
				t.Errorf("%d resources registered before the error: %v", len(r.m.resources), r.m.resources[0].name)
			}
			for k := range cfg {
				if k == "labfleet:day" && cfg[k] == "3" {
					k = "labfleet:nodeMemory" // day 3 is valid; the memory is what must change
				}
				if !strings.Contains(r.err.Error(), k) {
					t.Errorf("error does not name %s: %v", k, r.err)
				}
			}
		})
	}
}

// VM nodes are still one container each, rendered from the same spec: QEMU's rights only
// (NET_ADMIN, /dev/net/tun, /dev/kvm where the host has it), the launcher's settings, the
// guest disk on the node's volume, and the VM image built from infra/vmimage.
func TestVMNodesAreContainersFromTheSameSpec(t *testing.T) {
	r := runProgramOn(t, fakeHost{facts: plan.HostFacts{KVM: true}}, &fakeBootstrapper{}, true,
		map[string]string{"labfleet:nodeKind": "vm", "labfleet:vmMemory": "2g", "labfleet:vmCpus": "2"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	in := r.m.named("docker:index/container:Container", "spring-team1-w1").inputs
	if fmt.Sprint(in["capabilities"].ObjectValue()["adds"].ArrayValue()) != "[{NET_ADMIN}]" || in["privileged"].BoolValue() {
		t.Errorf("rights: %v privileged %v", in["capabilities"], in["privileged"])
	}
	if _, ok := in["securityOpts"]; ok {
		t.Errorf("security options on a VM node: %v", in["securityOpts"])
	}
	var devices []string
	for _, d := range in["devices"].ArrayValue() {
		devices = append(devices, d.ObjectValue()["hostPath"].StringValue())
	}
	if strings.Join(devices, ",") != "/dev/net/tun,/dev/kvm" {
		t.Errorf("devices %v", devices)
	}
	if env := fmt.Sprint(in["envs"].ArrayValue()); env != "[{LABFLEET_VM_ACCEL=auto} {LABFLEET_VM_CPUS=2} {LABFLEET_VM_MEMORY=2048}]" {
		t.Errorf("envs %s", env)
	}
	if mount := in["mounts"].ArrayValue()[0].ObjectValue(); mount["target"].StringValue() != "/var/lib/labfleet-vm" {
		t.Errorf("mount %v", mount)
	}
	if in["memory"].NumberValue() != 2048+512 || in["stopTimeout"].NumberValue() != 60 {
		t.Errorf("memory %v stop %v", in["memory"], in["stopTimeout"])
	}
	img := r.m.named("docker:index/image:Image", "node-image").inputs
	build := img["build"].ObjectValue()
	if img["imageName"].StringValue() != "spring-vm:latest" || build["context"].StringValue() != "infra" || build["dockerfile"].StringValue() != "infra/vmimage/Dockerfile" {
		t.Errorf("vm image %v", img)
	}

	// Without /dev/kvm on the host (or with vmAccel tcg) only the tun device goes in.
	r = runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, true, map[string]string{"labfleet:nodeKind": "vm"})
	if d := r.m.named("docker:index/container:Container", "spring-team1-w1").inputs["devices"].ArrayValue(); len(d) != 1 {
		t.Errorf("devices without /dev/kvm: %v", d)
	}
}

func TestBootstrapProgressIsShownOnEachTeamsRow(t *testing.T) {
	r := runProgram(t, false, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := map[string]logLine{
		"team1 join nodes ...":           {urn: "labfleet:index:Team::team1", ephemeral: true},
		"team2 join nodes ...":           {urn: "labfleet:index:Team::team2", ephemeral: true},
		"team1 join nodes: done in 1.0s": {urn: "labfleet:index:Team::team1"},
		"team2 join nodes: done in 1.0s": {urn: "labfleet:index:Team::team2"},
		" summary: every team ready":     {urn: "labfleet:index:Cohort::spring"},
	}
	found := 0
	for _, l := range r.logs {
		for key, w := range want {
			team, msg, _ := strings.Cut(key, " ")
			if l.msg != msg || !strings.Contains(l.urn, "::"+team) && team != "" {
				continue
			}
			found++
			if !strings.HasSuffix(l.urn, w.urn) || l.ephemeral != w.ephemeral {
				t.Errorf("%q shown on %s (ephemeral %v), want on %s (ephemeral %v)", msg, l.urn, l.ephemeral, w.urn, w.ephemeral)
			}
		}
	}
	if found != len(want) {
		t.Errorf("found %d of %d progress messages in %+v", found, len(want), r.logs)
	}
}

// A change only the bootstrap acts on must show in `pulumi preview`: as a change of the
// bootstrapPlan output, which is known at preview time.
func TestPreviewShowsWhatTheBootstrapWillConvergeTo(t *testing.T) {
	intent := func(config map[string]string) map[string]any {
		t.Helper()
		r := runProgram(t, true, config)
		if r.err != nil {
			t.Fatal(r.err)
		}
		out := r.exports["bootstrapPlan"]
		if !out.Known || out.Secret {
			t.Fatalf("bootstrapPlan known %v, secret %v during preview", out.Known, out.Secret)
		}
		return out.Value.(map[string]any)
	}
	base := intent(nil)
	if got := base["swarms"].(map[string]string)["team1"]; got != "managers team1-m1; workers team1-w1, team1-w2" {
		t.Errorf("team1's swarm: %q", got)
	}
	if got := base["day2"]; !strings.HasPrefix(fmt.Sprint(got), "stack day2 (memory-leak-app, improved-app) published on port 8090") {
		t.Errorf("day2: %q", got)
	}
	for name, tc := range map[string]struct {
		config map[string]string
		key    string
		want   string
	}{
		"day 2 to day 3":  {map[string]string{"labfleet:day": "3", "labfleet:nodeMemory": "3g"}, "day3", "clusters: a kind cluster per team (1 control-plane + 2 worker nodes, labfleet/kind-node:v1.37.2) on team1-m1, team2-m1; kubeconfigs handed out"},
		"day2Stack off":   {map[string]string{"labfleet:day2Stack": "false"}, "day2", "off: any day2 stack is removed (students' own services stay)"},
		"day3Prep on":     {map[string]string{"labfleet:day3Prep": "true", "labfleet:nodeMemory": "3g"}, "day3", "prepare: kind v0.33.0 and kubectl on every node, labfleet/kind-node:v1.37.2 preloaded; no cluster yet (any day-3 cluster is removed)"},
		"one more worker": {map[string]string{"labfleet:workers": "3"}, "swarms", "managers team1-m1; workers team1-w1, team1-w2, team1-w3"},
		"a reset":         {map[string]string{"labfleet:resetSwarms": `{"team1":"dtwp8lhqpywnr758o9f7b0yz2"}`}, "swarms", "managers team1-m1; workers team1-w1, team1-w2; START OVER: swarm dtwp8lhqpywnr758o9f7b0yz2 is replaced by a new one (labfleet:resetSwarms)"},
	} {
		changed := intent(tc.config)[tc.key]
		got := changed
		if m, ok := got.(map[string]string); ok {
			got = m["team1"]
		}
		if got != tc.want {
			t.Errorf("%s: bootstrapPlan.%s = %q, want %q", name, tc.key, got, tc.want)
		}
		if reflect.DeepEqual(changed, base[tc.key]) {
			t.Errorf("%s: bootstrapPlan.%s did not change", name, tc.key)
		}
	}
}

// Teams spread over two hosts: each host gets its own provider, node image and lab images,
// each team's resources go through its host's provider, the outputs say where each team
// is, and the preflight table is shown first.
func TestTeamsOnSeveralHosts(t *testing.T) {
	hosts := `[{"name":"local"},{"name":"big2","docker":"ssh://admin@big2.lab","sshOpts":["-i","/keys/big2"],"sshPortBase":3200}]`
	r := runProgramOn(t, fakeHost{facts: plan.HostFacts{Version: "26.1.5", MemoryMB: 16384, Cgroup: "2"}}, &fakeBootstrapper{}, false,
		map[string]string{"labfleet:teams": "3", "labfleet:hosts": hosts})
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The engine registers the two providers concurrently: their order is not the program's.
	providers := r.m.ofType("pulumi:providers:docker")
	if len(providers) != 2 {
		t.Fatalf("providers %v", providers)
	}
	localProvider, big2Provider := r.m.named("pulumi:providers:docker", "host-local"), r.m.named("pulumi:providers:docker", "host-big2")
	if localProvider.name == "" || big2Provider.name == "" {
		t.Fatalf("providers %v, want host-local and host-big2", providers)
	}
	local, big2 := localProvider.inputs, big2Provider.inputs
	if _, ok := local["host"]; ok {
		t.Errorf("the local provider sets a host: %v", local)
	}
	if big2["host"].StringValue() != "ssh://admin@big2.lab" || fmt.Sprint(big2["sshOpts"].ArrayValue()) != "[{-i} {/keys/big2}]" {
		t.Errorf("big2 provider %v", big2)
	}
	onBig2 := func(r registered) bool { return strings.Contains(r.provider, "host-big2") }
	for _, img := range []string{"big2-node-image", "big2-memory-leak-app", "big2-improved-app"} {
		if !onBig2(r.m.named("docker:index/image:Image", img)) {
			t.Errorf("%s is not built through big2's provider", img)
		}
	}
	if onBig2(r.m.named("docker:index/image:Image", "node-image")) {
		t.Error("the first host's node image went to big2")
	}
	// team1 and team3 on local, team2 on big2 (fewest teams first).
	for name, want := range map[string]bool{"spring-team1-m1": false, "spring-team2-w1": true, "spring-team3-w2": false} {
		c := r.m.named("docker:index/container:Container", name)
		if onBig2(c) != want {
			t.Errorf("%s on big2 = %v, want %v (provider %s)", name, onBig2(c), want, c.provider)
		}
	}
	if n := r.m.named("docker:index/network:Network", "spring-team2"); !onBig2(n) {
		t.Error("team2's network is not on big2")
	}
	ports := r.m.named("docker:index/container:Container", "spring-team2-w1").inputs["ports"].ArrayValue()[0].ObjectValue()
	if ports["external"].NumberValue() != 3211 || ports["ip"].StringValue() != "0.0.0.0" {
		t.Errorf("team2-w1 on big2 publishes %v", ports)
	}
	teams := r.exports["teams"].Value.(map[string]any)
	team2 := teams["team2"].(map[string]any)
	if team2["host"] != "big2" || teams["team1"].(map[string]any)["host"] != "local" {
		t.Errorf("hosts in the teams output: %v %v", team2["host"], teams["team1"].(map[string]any)["host"])
	}
	if ssh := team2["nodes"].([]any)[0].(map[string]any)["ssh"]; ssh != "big2.lab:3210" {
		t.Errorf("team2-m1 is reached at %v", ssh)
	}
	if ids := r.b.labImageIDs; ids["big2"]["improved-app"] != "sha256:id-of-big2-improved-app" || ids["local"]["improved-app"] != "sha256:id-of-improved-app" {
		t.Errorf("lab image IDs per host: %v", ids)
	}
	var table string
	for _, l := range r.logs {
		if strings.HasPrefix(l.msg, "preflight") {
			table = l.msg
		}
	}
	for _, frag := range []string{"HOST", "REACHABLE", "local", "big2", "ssh://admin@big2.lab", "26.1.5", "6.0g / 16.0g", "3.0g / 16.0g", "v2"} {
		if !strings.Contains(table, frag) {
			t.Errorf("preflight table lacks %q:\n%s", frag, table)
		}
	}
}

// One host reachable and one not: the run stops before any resource, naming the host that
// cannot be reached, its engine, the labfleet:hosts entry to fix and what the engine said,
// and nothing about the host that is fine; the bootstrap never runs.
func TestAnUnreachableHostBesideAReachableOneStopsTheRun(t *testing.T) {
	hosts := `[{"name":"local"},{"name":"big2","docker":"ssh://admin@big2.lab"}]`
	fine := plan.HostFacts{Version: "26.1.5", MemoryMB: 16384, Cgroup: "2"}
	mixed := fakeHost{facts: fine, byHost: map[string]plan.HostFacts{"big2": {Err: "ssh: connect to host big2.lab port 22: Connection refused"}}}
	for _, dryRun := range []bool{true, false} {
		b := &fakeBootstrapper{}
		// Three teams: team2 goes to big2 (fewest teams first).
		r := runProgramOn(t, mixed, b, dryRun, map[string]string{"labfleet:teams": "3", "labfleet:hosts": hosts})
		if r.err == nil {
			t.Fatalf("dry run %v: passed with big2 unreachable", dryRun)
		}
		want := "labfleet:hosts[1]: host big2: cannot reach its Docker engine (ssh://admin@big2.lab): ssh: connect to host big2.lab port 22: Connection refused"
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("dry run %v: err = %v\nwant it to contain %q", dryRun, r.err, want)
		}
		if strings.Contains(r.err.Error(), "host local") || strings.Count(r.err.Error(), "\n  - ") != 1 {
			t.Errorf("dry run %v: want the one problem, with big2 alone: %v", dryRun, r.err)
		}
		if len(r.m.resources) != 0 || b.calls != 0 {
			t.Errorf("dry run %v: %d resources registered, bootstrap ran %d times", dryRun, len(r.m.resources), b.calls)
		}
	}
	// The same hosts, both reachable: the run goes on, team2 on big2.
	r := runProgramOn(t, fakeHost{facts: fine}, &fakeBootstrapper{}, true, map[string]string{"labfleet:teams": "3", "labfleet:hosts": hosts})
	if r.err != nil || !strings.Contains(r.m.named("docker:index/container:Container", "spring-team2-m1").provider, "host-big2") {
		t.Errorf("both reachable: err %v, team2-m1 on %q", r.err, r.m.named("docker:index/container:Container", "spring-team2-m1").provider)
	}
}

// A team that lives on a host stays there even when the placement rule would now put it
// elsewhere; a misspelt host field is refused.
func TestATeamStaysWhereItLives(t *testing.T) {
	hosts := `[{"name":"local"},{"name":"big2","docker":"ssh://admin@big2.lab"}]`
	lives := fakeHost{facts: plan.HostFacts{Labelled: []plan.HostObject{{Cohort: "spring", Team: "team1"}, {Cohort: "spring", Team: "team2"}}}}
	// Every host reports team1 and team2; the first host listed wins, so both stay local.
	r := runProgramOn(t, lives, &fakeBootstrapper{}, true, map[string]string{"labfleet:hosts": hosts})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c := r.m.named("docker:index/container:Container", "spring-team2-m1"); strings.Contains(c.provider, "host-big2") {
		t.Error("team2 moved to big2")
	}
	r = runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, true, map[string]string{"labfleet:hosts": `[{"name":"big2","dokcer":"ssh://x"}]`})
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:hosts") || !strings.Contains(r.err.Error(), `unknown field "dokcer"`) || len(r.m.resources) != 0 {
		t.Errorf("misspelt field: %v", r.err)
	}
}

// machineKey is an instructor's key for existing machines, as labfleet:machineKey holds it.
const machineKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDY2WNp5JQpUab2uF8+eUVMQmq5zOadHl2noOJbNzwbVAAAAJBn+R/xZ/kf
8QAAAAtzc2gtZWQyNTUxOQAAACDY2WNp5JQpUab2uF8+eUVMQmq5zOadHl2noOJbNzwbVA
AAAEAvpcJAbOoA1CRqQxF3m63XE7PnUTHcdfAJ+SgRCvfHP9jZY2nklClRpva4Xz55RUxC
arnM5p0eXaeg4ls3PBtUAAAACHRlc3RAbGFiAQIDBAU=
-----END OPENSSH PRIVATE KEY-----
`

// A cohort on existing machines: no Docker resource for its teams (only the lab images,
// built on the local engine), each machine's component carries the teardown hook, and the
// outputs point at the machines.
func TestTeamsOnExistingMachines(t *testing.T) {
	machines := `[{"address":"10.0.0.11","user":"admin","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfMachine11"},{"address":"10.0.0.12","user":"admin"},
		{"address":"10.0.0.21","port":2222},{"address":"10.0.0.22","team":"team2"}]`
	r := runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, false, map[string]string{
		"labfleet:workers": "1", "labfleet:machines": machines, "labfleet:machineKey": machineKey})
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, typ := range []string{"docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume"} {
		if n := len(r.m.ofType(typ)); n != 0 {
			t.Errorf("%d %s on existing machines", n, typ)
		}
	}
	if r.m.named("docker:index/image:Image", "node-image").typ != "" || r.m.named("docker:index/image:Image", "improved-app").typ == "" {
		t.Error("want the lab images and no node image")
	}
	// Each machine is a component of its own under its team, named by node and address, and
	// carries the hook: a machine that leaves the list is deleted, and so torn down, alone.
	var named []string
	for _, m := range r.m.ofType("labfleet:index:Machine") {
		named = append(named, m.name)
		team, _, _ := strings.Cut(m.name, "-")
		if fmt.Sprint(m.beforeDelete) != "["+TeardownHook+"]" || !strings.HasSuffix(m.parent, "labfleet:index:Team::"+team) {
			t.Errorf("machine %s: hooks %v, parent %s", m.name, m.beforeDelete, m.parent)
		}
	}
	slices.Sort(named)
	if want := []string{"team1-m1@10.0.0.11:22", "team1-w1@10.0.0.12:22", "team2-m1@10.0.0.22:22", "team2-w1@10.0.0.21:2222"}; !slices.Equal(named, want) {
		t.Errorf("machines %q, want %q", named, want)
	}
	for _, team := range r.m.ofType("labfleet:index:Team") {
		if len(team.beforeDelete) != 0 {
			t.Errorf("team %s hooks %v: its machines carry the hook", team.name, team.beforeDelete)
		}
	}
	team2 := r.exports["teams"].Value.(map[string]any)["team2"].(map[string]any)
	nodes := team2["nodes"].([]any)
	if team2["host"] != "machines" || nodes[0].(map[string]any)["ssh"] != "10.0.0.22:22" || nodes[1].(map[string]any)["ssh"] != "10.0.0.21:2222" {
		t.Errorf("team2 = %v", team2)
	}
	if kh := nodes[0].(map[string]any)["knownHost"]; kh != "" {
		t.Errorf("an unpinned machine got a known_hosts line: %v", kh)
	}
	team1 := r.exports["teams"].Value.(map[string]any)["team1"].(map[string]any)
	if kh := team1["nodes"].([]any)[0].(map[string]any)["knownHost"]; kh != "10.0.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfMachine11" {
		t.Errorf("team1-m1 known host %v", kh)
	}
	if r.b.plan.Teams[0].Nodes[1].Machine.User != "admin" || r.b.plan.Teams[1].Nodes[0].IP.String() != "10.0.0.22" {
		t.Errorf("the bootstrap got %+v", r.b.plan.Teams)
	}
	// Another machine in place of 10.0.0.12 is another component: the engine deletes the old
	// one, which runs its teardown, and creates the new one.
	swapped := strings.Replace(machines, "10.0.0.12", "10.0.0.13", 1)
	r2 := runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, true, map[string]string{"labfleet:workers": "1", "labfleet:machines": swapped, "labfleet:machineKey": machineKey})
	if r2.err != nil || r2.m.named("labfleet:index:Machine", "team1-w1@10.0.0.13:22").typ == "" || r2.m.named("labfleet:index:Machine", "team1-w1@10.0.0.12:22").typ != "" {
		t.Errorf("a swapped machine: %v, machines %v", r2.err, r2.m.ofType("labfleet:index:Machine"))
	}
	// A machine that cannot be reached stops the run before anything is registered.
	down := fakeHost{machines: plan.MachineFacts{Err: "ssh: connect: connection refused"}}
	r = runProgramOn(t, down, &fakeBootstrapper{}, true, map[string]string{"labfleet:workers": "1", "labfleet:machines": machines, "labfleet:machineKey": machineKey})
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:machines (team team1, node team1-m1): cannot log in to admin@10.0.0.11:22: ssh: connect") || len(r.m.created()) != 0 {
		t.Errorf("an unreachable machine: %v, %d resources", r.err, len(r.m.created()))
	}

	// Without the key, nothing is registered.
	r = runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, true, map[string]string{"labfleet:workers": "1", "labfleet:machines": machines})
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:machineKey is not set") || len(r.m.ofType("labfleet:index:Team")) != 0 {
		t.Errorf("no machine key: %v", r.err)
	}
}

// labfleet:machinesFrom reads the machines another stack exports.
func TestMachinesFromAnotherStack(t *testing.T) {
	r := runProgramOn(t, fakeHost{}, &fakeBootstrapper{}, false, map[string]string{
		"labfleet:teams": "1", "labfleet:workers": "1", "labfleet:machinesFrom": "org/cloud-vms/spring", "labfleet:machineKey": machineKey})
	if r.err != nil {
		t.Fatal(r.err)
	}
	nodes := r.exports["teams"].Value.(map[string]any)["team1"].(map[string]any)["nodes"].([]any)
	if nodes[0].(map[string]any)["ssh"] != "10.0.0.11:22" || nodes[1].(map[string]any)["ssh"] != "10.0.0.12:22" {
		t.Errorf("nodes %v", nodes)
	}
}

// machinesOf, which the teardown hook calls, reads a team's machines back from its last
// outputs; outputs of another shape are an error, not an empty list.
func TestMachinesOfReadsATeamsMachinesFromItsOutputs(t *testing.T) {
	outputs := resource.NewPropertyMapFromMap(map[string]any{
		"status": "ready",
		MachinesOutput: []any{
			map[string]any{"node": "team1-m1", "target": "10.0.0.11:22", "user": "admin", "hostKey": "ssh-ed25519 AAAA"},
		},
	})
	got, err := machinesOf(outputs)
	if err != nil || len(got) != 1 || got[0] != (bootstrap.Machine{Node: "team1-m1", Target: "10.0.0.11:22", User: "admin", HostKey: "ssh-ed25519 AAAA"}) {
		t.Errorf("machines %+v, %v", got, err)
	}
	// A Machine component's outputs: that one machine.
	one := resource.NewPropertyMapFromMap(map[string]any{"team": "team1", "node": "team1-w1", "target": "10.0.0.12:22", "user": "admin", "hostKey": ""})
	if got, err := machinesOf(one); err != nil || len(got) != 1 || got[0] != (bootstrap.Machine{Node: "team1-w1", Target: "10.0.0.12:22", User: "admin"}) {
		t.Errorf("a Machine component: %+v, %v", got, err)
	}
	if got, err := machinesOf(resource.PropertyMap{}); err != nil || got != nil {
		t.Errorf("a team of containers: %v %v", got, err)
	}
	for name, bad := range map[string]resource.PropertyMap{
		"not a list":      resource.NewPropertyMapFromMap(map[string]any{MachinesOutput: "10.0.0.11:22"}),
		"not an object":   resource.NewPropertyMapFromMap(map[string]any{MachinesOutput: []any{"10.0.0.11:22"}}),
		"a list of lists": resource.NewPropertyMapFromMap(map[string]any{MachinesOutput: []any{[]any{"team1-m1"}}}),
	} {
		if got, err := machinesOf(bad); err == nil || !strings.Contains(err.Error(), MachinesOutput) {
			t.Errorf("%s: %+v, err %v: want an error naming the output", name, got, err)
		}
	}
}

// A machine that will never answer again does not block the teardown of the others (and so
// pulumi destroy): listed in labfleet:goneMachines by address, address:port or node name,
// it is left out and named; a failed teardown names that way out.
func TestTheTeardownLeavesOutMachinesListedAsGone(t *testing.T) {
	outputs := resource.NewPropertyMapFromMap(map[string]any{MachinesOutput: []any{
		map[string]any{"node": "team1-m1", "target": "10.0.0.11:22", "user": "admin"},
		map[string]any{"node": "team1-w1", "target": "10.0.0.12:2222", "user": "admin"},
	}})
	for _, gone := range [][]string{{"10.0.0.12"}, {"10.0.0.12:2222"}, {"team1-w1"}} {
		b := &fakeBootstrapper{}
		var warnings []string
		err := teardownTeam(context.Background(), b, "team1", outputs, machineKey, gone, func(w string) { warnings = append(warnings, w) })
		if err != nil || len(b.teardowns) != 1 || strings.Contains(b.teardowns[0], "team1-w1") || !strings.Contains(b.teardowns[0], "team1-m1") {
			t.Errorf("gone %v: tore down %q, err %v", gone, b.teardowns, err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "machine 10.0.0.12:2222 (node team1-w1) is in labfleet:goneMachines") ||
			!strings.Contains(warnings[0], "/etc/labfleet/machine") {
			t.Errorf("gone %v: warnings %q", gone, warnings)
		}
	}
	// Every machine gone: nothing to log in to, so not even the key is needed.
	b := &fakeBootstrapper{}
	if err := teardownTeam(context.Background(), b, "team1", outputs, "", []string{"team1-m1", "team1-w1"}, func(string) {}); err != nil || len(b.teardowns) != 0 {
		t.Errorf("all gone: tore down %q, err %v", b.teardowns, err)
	}
	// The way out is offered for a machine that does not answer, and only for that.
	hint := "pulumi config set --path 'labfleet:goneMachines[0]' <its address>"
	for _, tc := range []struct {
		name string
		err  error
		hint bool
	}{
		{"unreachable after the retries", sshDialError(t, context.Background()), true},
		{"cancelled while dialling", sshDialError(t, cancelled()), false},
		{"answers and fails", errors.New("machine 10.0.0.12:2222 (node team1-w1): teardown: delete account student: exit code 1"), false},
	} {
		b = &fakeBootstrapper{teardownErr: tc.err}
		err := teardownTeam(context.Background(), b, "team1", outputs, machineKey, nil, func(string) {})
		if err == nil || !strings.Contains(err.Error(), tc.err.Error()) || strings.Contains(err.Error(), hint) != tc.hint {
			t.Errorf("%s: err = %v, want the way out: %v", tc.name, err, tc.hint)
		}
	}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// sshDialError is what the teardown returns for a machine whose SSH port refuses connections
// (port 1 on loopback: nothing listens there).
func sshDialError(t *testing.T, ctx context.Context) error {
	keys, err := sshkeys.New(testSeed, "spring")
	if err != nil {
		t.Fatal(err)
	}
	opts := sshexec.Options{AttemptTimeout: time.Second, RetryFor: 300 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, KeepaliveInterval: time.Second, KeepaliveMisses: 1}
	_, err = bootstrap.DialMachine(ctx, bootstrap.Machine{Node: "team1-w1", Target: "127.0.0.1:1", User: "admin"}, keys.Admin().Signer(), opts)
	if err == nil {
		t.Fatal("dialled a closed port")
	}
	return fmt.Errorf("team team1: removing labfleet from its machines: %w", err)
}

func TestGoneMachinesMustBeAList(t *testing.T) {
	r := runProgram(t, true, map[string]string{"labfleet:workers": "1", "labfleet:machines": `[{"address":"10.0.0.11","user":"admin"},{"address":"10.0.0.12","user":"admin"}]`,
		"labfleet:teams": "1", "labfleet:machineKey": machineKey, "labfleet:goneMachines": "10.0.0.12"})
	if r.err == nil || !strings.Contains(r.err.Error(), "labfleet:goneMachines: 10.0.0.12 is not a list") || len(r.m.created()) != 0 {
		t.Errorf("err %v, %d resources", r.err, len(r.m.created()))
	}
}

// A machine without a hostKey is trusted on the first contact only: the key it presented
// goes into the stack's machineHostKeys output, and the next run logs in with that key (and
// puts it on the cards) without trusting anything new.
func TestAMachinesHostKeyIsPinnedInTheStackFromTheFirstContact(t *testing.T) {
	machines := `[{"address":"10.0.0.11","user":"admin","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfMachine11"},{"address":"10.0.0.12","user":"admin"}]`
	config := map[string]string{"labfleet:teams": "1", "labfleet:workers": "1", "labfleet:machines": machines, "labfleet:machineKey": machineKey}
	first := runProgramOn(t, fakeHost{presents: "first"}, &fakeBootstrapper{}, false, config)
	if first.err != nil {
		t.Fatal(first.err)
	}
	pinned := first.exports[HostKeysOutput].Value
	want := map[string]any{"10.0.0.11:22": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfMachine11", "10.0.0.12:22": "ssh-ed25519 AAAAfirst10.0.0.12"}
	if fmt.Sprint(pinned) != fmt.Sprint(want) {
		t.Errorf("first run: %s = %v, want %v", HostKeysOutput, pinned, want)
	}
	if first.b.plan.Teams[0].Nodes[1].Machine.HostKey != "ssh-ed25519 AAAAfirst10.0.0.12" || len(first.warnings("has no hostKey")) != 1 {
		t.Errorf("first run: bootstrap logs in with %q, warnings %v", first.b.plan.Teams[0].Nodes[1].Machine.HostKey, first.warnings(""))
	}
	// The next run: the machine now presents another key; the stack's pin is what counts.
	again := runProgramOn(t, fakeHost{presents: "other", ownOutputs: map[string]any{HostKeysOutput: pinned}}, &fakeBootstrapper{}, false, config)
	if again.err != nil {
		t.Fatal(again.err)
	}
	if again.b.plan.Teams[0].Nodes[1].Machine.HostKey != "ssh-ed25519 AAAAfirst10.0.0.12" || len(again.warnings("has no hostKey")) != 0 {
		t.Errorf("next run: bootstrap logs in with %q, warnings %v", again.b.plan.Teams[0].Nodes[1].Machine.HostKey, again.warnings(""))
	}
	node := again.exports["teams"].Value.(map[string]any)["team1"].(map[string]any)["nodes"].([]any)[1].(map[string]any)
	if node["knownHost"] != "10.0.0.12 ssh-ed25519 AAAAfirst10.0.0.12" {
		t.Errorf("the card's known host: %v", node["knownHost"])
	}
	// A cohort of containers reads nothing of the sort.
	if r := runProgram(t, true, nil); len(r.m.ofType("pulumi:pulumi:StackReference")) != 0 {
		t.Errorf("a cohort of containers reads its own stack")
	}
}
