// Package kindprep prepares Day 3: kind and kubectl on every node of a team, the kind node
// image preloaded into the team's first manager (whose dockerd hosts the team's cluster),
// the team's kind config, and, on day 3, the cluster itself with its kubeconfig on every
// team node. Turning day 3 off deletes the cluster. Each step checks before it acts.
package kindprep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day3"
)

// Node is one node of the team.
type Node = steps.Node

// Tools are the kind and kubectl binaries built on the Docker host.
type Tools struct {
	Kind, Kubectl string // paths
}

// BuildTools builds the pinned kind and kubectl from the module in repoDir into a cache
// directory named after their versions, unless they are already there.
func BuildTools(ctx context.Context, repoDir, cacheDir string) (Tools, error) {
	dir := filepath.Join(cacheDir, "kind-"+day3.KindVersion+"-kubectl-"+day3.KubernetesVersion)
	t := Tools{Kind: filepath.Join(dir, "kind"), Kubectl: filepath.Join(dir, "kubectl")}
	if fileExists(t.Kind) && fileExists(t.Kubectl) {
		return t, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", kindimage.KubeLDFlags(day3.KubernetesVersion), "-o", dir+"/", "./bootstrap/kindprep/cmd/kind", "./bootstrap/kindprep/cmd/kubectl")
	cmd.Dir = repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return t, fmt.Errorf("building kind and kubectl in %s: %v: %s", repoDir, err, strings.TrimSpace(string(out)))
	}
	return t, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Result is what Day-3 preparation did for a team.
type Result struct {
	ClusterName string
	HostNode    string
	APIServer   string
	Kubeconfig  string // empty unless the cluster exists (day 3)
	Actions     []string
	Notes       []string // the preflight's findings that do not stop the team
}

// Timing bounds cluster creation.
type Timing struct{ Create time.Duration }

type team struct {
	plan  plan.Team
	nodes []Node
	host  Node
	steps.Changes
}

func (t *team) eachNode(step func(Node) error) error { return steps.Each(t.nodes, step) }

// Setup prepares one team (and on day 3 creates its cluster, loads the lab images that the
// hosting node has into it, and puts the Day-3 lab files on every node), or deletes a
// cluster left from day 3 when day 3 is off. labImages are the Day-2 lab's images by the
// name nodes know them by.
func Setup(ctx context.Context, d plan.Day3, pt plan.Team, nodes []Node, tools Tools, img *images.Image, labImages []string, timing Timing) (Result, error) {
	if timing.Create == 0 {
		timing.Create = 10 * time.Minute
	}
	cfg, err := day3.Render(d, pt)
	if err != nil {
		return Result{}, err
	}
	t := &team{plan: pt, nodes: nodes}
	for _, n := range nodes {
		if n.Name == cfg.HostNode {
			t.host = n
		}
	}
	res := Result{ClusterName: cfg.ClusterName, HostNode: cfg.HostNode, APIServer: cfg.APIServer}
	var todo []steps.Step
	if d.Prepare {
		todo = append(todo,
			steps.Step{Name: "check what the kind cluster needs", Timeout: time.Minute, Run: func(ctx context.Context) error {
				var err error
				res.Notes, err = t.preflight(ctx, d, cfg)
				return err
			}},
			steps.Step{Name: "install kind and kubectl", Timeout: 5 * time.Minute, Run: func(ctx context.Context) error { return t.installTools(ctx, tools) }},
			steps.Step{Name: "preload the kind node image", Timeout: 30 * time.Minute, Run: func(ctx context.Context) error { return t.preload(ctx, img) }},
			steps.Step{Name: "write the kind config", Timeout: time.Minute, Run: func(ctx context.Context) error { return t.writeConfig(ctx, cfg) }},
		)
	}
	if d.Clusters {
		todo = append(todo,
			steps.Step{Name: "create the kind cluster", Timeout: timing.Create + 5*time.Minute, Run: func(ctx context.Context) error { return t.ensureCluster(ctx, d, cfg, timing) }},
			steps.Step{Name: "load the lab images into the cluster", Timeout: 10 * time.Minute, Run: func(ctx context.Context) error {
				return t.loadLabImages(ctx, cfg, labImages)
			}},
			steps.Step{Name: "write the day-3 lab files", Timeout: time.Minute, Run: t.writeLabFiles},
			steps.Step{Name: "hand out the kubeconfig", Timeout: 2 * time.Minute, Run: func(ctx context.Context) error {
				kc, err := t.distributeKubeconfig(ctx, cfg)
				res.Kubeconfig = kc
				return err
			}},
		)
	} else {
		todo = append(todo, steps.Step{Name: "remove a day-3 cluster", Timeout: 5 * time.Minute, Run: func(ctx context.Context) error { return t.removeCluster(ctx, cfg) }})
	}
	err = steps.Run(ctx, pt.Name, todo)
	res.Actions = t.List()
	return res, err
}

// preflight runs Preflight on the node that hosts the team's cluster. On day 3 a blocking
// finding fails the team, naming the fix; before it (labfleet:day3Prep) it is a note, for
// the instructor to fix in time. It returns the other findings, as notes.
func (t *team) preflight(ctx context.Context, d plan.Day3, cfg day3.Config) ([]string, error) {
	running, err := t.clusterExists(ctx, cfg.ClusterName)
	if err != nil {
		return nil, err
	}
	findings, err := Preflight(ctx, t.host.Run, d, running)
	if err != nil {
		return nil, err
	}
	var notes, blocking []string
	for _, f := range findings {
		switch {
		case f.Blocking && d.Clusters:
			blocking = append(blocking, f.Msg)
		case f.Blocking:
			notes = append(notes, "must be fixed before labfleet:day is 3: "+f.Msg)
		default:
			notes = append(notes, f.Msg)
		}
	}
	if len(blocking) > 0 {
		return notes, fmt.Errorf("node %s: %s", t.host.Name, strings.Join(blocking, "; "))
	}
	return notes, nil
}

// installTools copies the binaries to /usr/local/bin on every node whose copy differs.
func (t *team) installTools(ctx context.Context, tools Tools) error {
	return t.eachNode(func(n Node) error {
		for _, bin := range []string{tools.Kind, tools.Kubectl} {
			changed, err := installBinary(ctx, n.Run, bin)
			if err != nil {
				return err
			}
			if changed {
				t.Did("install %s on %s", filepath.Base(bin), n.Name)
			}
		}
		return nil
	})
}

// installBinary copies a local executable to /usr/local/bin on the node.
func installBinary(ctx context.Context, node steps.Runner, local string) (bool, error) {
	f, err := os.Open(local)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return remote.WriteFile(ctx, node, remote.File{Path: "/usr/local/bin/" + filepath.Base(local), Content: f, Mode: "0755", Owner: remote.AsRoot})
}

// preload puts the kind node image into the node whose dockerd hosts the cluster.
func (t *team) preload(ctx context.Context, img *images.Image) error {
	took, err := images.Load(ctx, t.host, img)
	if took > 0 {
		t.Did("load %s into %s (%s)", img.NodeRef, t.host.Name, took.Round(time.Millisecond))
	}
	return err
}

// configPath is in labfleet's own home on the hosting node; studentKubeconfig is where
// students' kubectl finds the cluster.
const (
	configPath        = "labfleet/kind.yaml"
	studentKubeconfig = plan.StudentHome + "/.kube/config"
)

// writeConfig writes labfleet's copy of the kind config, which it creates the cluster
// from, and the students' copy in their home, which they may read and change.
func (t *team) writeConfig(ctx context.Context, cfg day3.Config) error {
	for _, copy := range []struct{ path, owner string }{{configPath, remote.AsLoginUser}, {plan.StudentHome + "/" + configPath, plan.SSHUser}} {
		wrote, err := remote.WriteFile(ctx, t.host.Run, remote.File{Path: copy.path, Content: strings.NewReader(cfg.YAML), Mode: "0644", Owner: copy.owner})
		if err != nil {
			return err
		}
		if wrote {
			t.Did("write %s on %s", copy.path, t.host.Name)
		}
	}
	return nil
}

func (t *team) clusterExists(ctx context.Context, name string) (bool, error) {
	out, err := t.host.Run.Run(ctx, "if command -v kind >/dev/null; then kind get clusters 2>/dev/null; fi")
	if err != nil {
		return false, err
	}
	for _, c := range strings.Fields(out) {
		if c == name {
			return true, nil
		}
	}
	return false, nil
}

// Markers on the hosting node record what labfleet did with a cluster: creation started,
// and the cluster was seen healthy. A cluster that exists with the first marker but never
// the second is one whose creation was interrupted (Ctrl-C, a lost connection): labfleet
// made it and nothing can have run in it, so it is deleted and created again.
func creatingMarker(name string) string { return "labfleet/kind-" + name + ".creating" }
func healthyMarker(name string) string  { return "labfleet/kind-" + name + ".healthy" }

// ensureCluster creates the cluster if it does not exist. An existing cluster is left alone
// when healthy, and reported, never recreated, when not: it may hold the students' work.
// The one exception is a cluster labfleet started to create and that never became healthy.
func (t *team) ensureCluster(ctx context.Context, d plan.Day3, cfg day3.Config, timing Timing) error {
	exists, err := t.clusterExists(ctx, cfg.ClusterName)
	if err != nil {
		return err
	}
	name := cfg.ClusterName
	if exists {
		marks, err := t.host.Run.Run(ctx, fmt.Sprintf("test -e %s && echo creating; test -e %s && echo healthy; true", creatingMarker(name), healthyMarker(name)))
		if err != nil {
			return err
		}
		interrupted := strings.Contains(marks, "creating") && !strings.Contains(marks, "healthy")
		if !interrupted {
			if problem := t.health(ctx, d, cfg); problem != "" {
				return fmt.Errorf("kind cluster %q on %s exists but is not healthy (%s): look at it with `kubectl get nodes` on %s, or delete it with `kind delete cluster --name %s` there and run pulumi up again",
					name, t.host.Name, problem, t.host.Name, name)
			}
			return t.markHealthy(ctx, name)
		}
		if _, err := t.host.Run.Run(ctx, "kind delete cluster --name "+name); err != nil {
			return err
		}
		t.Did("delete kind cluster %s on %s: its creation was interrupted", name, t.host.Name)
	}
	start := time.Now()
	cmd := fmt.Sprintf("mkdir -p .kube labfleet && touch %s && kind create cluster --config %s --wait %s --kubeconfig .kube/kind-%s",
		creatingMarker(name), configPath, timing.Create, name)
	if _, err := t.host.Run.Run(ctx, cmd); err != nil {
		return kindCreateError(err, steps.PaceOf(ctx))
	}
	// kind's --wait covers the control plane only: the workers join after it, and are Ready
	// once the pod network runs on them (seconds to a minute later on a busy host).
	var problem string
	err = steps.Poll(ctx, fmt.Sprintf("every node of kind cluster %q Ready", name), timing.Create, nodesReadyInterval, func(ctx context.Context) (bool, error) {
		problem = t.health(ctx, d, cfg)
		return problem == "", nil
	})
	if ctx.Err() != nil {
		return err
	}
	if problem != "" {
		return fmt.Errorf("kind cluster %q on %s was created but is not healthy after %s: %s", name, t.host.Name, steps.PaceOf(ctx).Scale(timing.Create), problem)
	}
	t.Did("create kind cluster %s on %s (%s)", name, t.host.Name, time.Since(start).Round(time.Second))
	return t.markHealthy(ctx, name)
}

// kindCreateError adds the way out to a `kind create cluster` that failed because its nodes
// booted too slowly for kind. kind gives each node container a fixed 30 s after `docker run`
// to print systemd's "Reached target ... Multi-User System" (or the entrypoint's "detected
// cgroup v1"), whatever the machine; in a VM guest under TCG emulation systemd takes longer
// (on this project's test machine kind create failed there, at that wait). Any other
// failure is returned as it is.
func kindCreateError(err error, pace steps.Pace) error {
	if pace < steps.Pace(plan.PaceTCG) || !strings.Contains(err.Error(), "could not find a log line that matches") {
		return err
	}
	return fmt.Errorf("%w\nkind gives each of its nodes a fixed 30 s to start systemd, and this team's VM nodes run under TCG emulation, too slow for that: kind on VM nodes needs a host where KVM works (labfleet:vmAccel kvm); on this host, run day 3 on dind nodes (labfleet:nodeKind dind, in a new cohort: changing it replaces every node)", err)
}

// nodesReadyInterval is how often a new cluster's nodes are asked whether they are Ready.
const nodesReadyInterval = 2 * time.Second

func (t *team) markHealthy(ctx context.Context, name string) error {
	_, err := t.host.Run.Run(ctx, fmt.Sprintf("test -e %s || { mkdir -p labfleet && touch %s; }", healthyMarker(name), healthyMarker(name)))
	return err
}

// health returns "" when every planned node of the cluster is Ready.
func (t *team) health(ctx context.Context, d plan.Day3, cfg day3.Config) string {
	out, err := t.host.Run.Run(ctx, fmt.Sprintf("mkdir -p .kube && kind get kubeconfig --name %s > .kube/kind-%s && kubectl --kubeconfig .kube/kind-%s get nodes --no-headers", cfg.ClusterName, cfg.ClusterName, cfg.ClusterName))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	ready := 0
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "Ready" {
			ready++
		}
	}
	if want := d.ControlPlanes + d.Workers; ready != want || len(lines) != want {
		return strconv.Itoa(ready) + " of " + strconv.Itoa(want) + " nodes Ready: " + strings.Join(lines, "; ")
	}
	return ""
}

// loadLabImages puts the lab images the hosting node has into every node of the cluster
// that lacks them (kind load compares image IDs), so the Day-3 lab pulls nothing.
func (t *team) loadLabImages(ctx context.Context, cfg day3.Config, refs []string) error {
	var present []string
	for _, ref := range refs {
		out, err := t.host.Run.Run(ctx, "docker image inspect --format '{{.Id}}' "+ref+" 2>/dev/null || true")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			present = append(present, ref)
		}
	}
	if len(present) == 0 {
		return nil
	}
	out, err := t.host.Run.Run(ctx, fmt.Sprintf("kind load docker-image --name %s %s 2>&1", cfg.ClusterName, strings.Join(present, " ")))
	if err != nil {
		return err
	}
	// kind says "not yet present on node X" for each image it loads.
	if strings.Contains(out, "not yet present") {
		t.Did("load %s into kind cluster %s", strings.Join(present, ", "), cfg.ClusterName)
	}
	return nil
}

// writeLabFiles puts the Day-3 lab's files in ~/day3 on every node of the team.
func (t *team) writeLabFiles(ctx context.Context) error {
	return t.eachNode(func(n Node) error {
		for _, f := range day3.LabFiles() {
			wrote, err := remote.WriteFile(ctx, n.Run, remote.File{Path: plan.StudentHome + "/day3/" + f.Name, Content: strings.NewReader(f.Content), Mode: "0644", Owner: plan.SSHUser})
			if err != nil {
				return err
			}
			if wrote {
				t.Did("write ~/day3/%s on %s", f.Name, n.Name)
			}
		}
		return nil
	})
}

// distributeKubeconfig puts the cluster's kubeconfig (API server on the hosting node's team
// address) at ~/.kube/config on every node of the team and returns it.
func (t *team) distributeKubeconfig(ctx context.Context, cfg day3.Config) (string, error) {
	raw, err := t.host.Run.Run(ctx, "kind get kubeconfig --name "+cfg.ClusterName)
	if err != nil {
		return "", err
	}
	// Students have root on the node: take nothing from it but the certificates.
	kc, err := day3.SafeKubeconfig(raw, cfg.ClusterName, cfg.APIServer)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", t.host.Name, err)
	}
	return kc, t.eachNode(func(n Node) error {
		wrote, err := remote.WriteFile(ctx, n.Run, remote.File{Path: studentKubeconfig, Content: strings.NewReader(kc), Mode: "0600", Owner: plan.SSHUser})
		if wrote {
			t.Did("write ~/.kube/config on %s", n.Name)
		}
		return err
	})
}

func (t *team) removeCluster(ctx context.Context, cfg day3.Config) error {
	exists, err := t.clusterExists(ctx, cfg.ClusterName)
	if err != nil || !exists {
		return err
	}
	if _, err := t.host.Run.Run(ctx, fmt.Sprintf("kind delete cluster --name %s && rm -f %s %s", cfg.ClusterName, creatingMarker(cfg.ClusterName), healthyMarker(cfg.ClusterName))); err != nil {
		return err
	}
	t.Did("delete kind cluster %s on %s (day 3 is off)", cfg.ClusterName, t.host.Name)
	return t.eachNode(func(n Node) error {
		_, err := n.Run.Run(ctx, "sudo rm -f "+studentKubeconfig)
		return err
	})
}
