// Package lab puts the Day-2 lab on a team's converged swarm: it checks whether the host
// kernel can run the routing mesh, streams the lab images into every node (no registry),
// installs labprobe and the student files, and deploys the day2 stack on a manager. Every
// step checks before it acts, so a rerun with nothing changed does nothing.
package lab

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Node is one node of the team.
type Node = steps.Node

// Image is a lab image on the Docker host, ready to stream into nodes.
type Image struct {
	Name string // e.g. "improved-app"
	*images.Image
}

// Result is what the lab step did for a team.
type Result struct {
	Mesh    plan.RoutingMesh // the mode actually used
	AppURLs []string         // the day2 stack through each node
	Actions []string         // what this run changed; empty when nothing needed doing
	Notes   []string         // what the instructor should know, on every run
}

// Timing bounds the waits; the zero value gets DefaultTiming.
type Timing struct {
	Converge time.Duration // for the stack's services to run every replica
	Poll     time.Duration
}

// DefaultTiming allows for healthchecks (a task counts once healthy) and slow first starts.
var DefaultTiming = Timing{Converge: 2 * time.Minute, Poll: time.Second}

// labprobePath is where labprobe is installed on every node.
const labprobePath = "/usr/local/bin/labprobe"

type team struct {
	name   string
	nodes  []Node
	timing Timing
	steps.Changes
}

func (t *team) eachNode(step func(Node) error) error { return steps.Each(t.nodes, step) }

// Setup runs the Day-2 steps on one team whose swarm has converged.
func Setup(ctx context.Context, teamName string, nodes []Node, d plan.Day2, images []Image, timing Timing) (Result, error) {
	if timing == (Timing{}) {
		timing = DefaultTiming
	}
	t := &team{name: teamName, nodes: nodes, timing: timing}
	res := Result{}
	note := func(s string) { res.Notes = append(res.Notes, s) }
	err := steps.Run(ctx, teamName, []steps.Step{
		{Name: "check the routing mesh", Timeout: time.Minute, Run: func(ctx context.Context) error {
			mesh, err := t.chooseMesh(ctx, d.Mesh, note)
			res.Mesh = mesh
			return err
		}},
		{Name: "load lab images", Timeout: 10 * time.Minute, Run: func(ctx context.Context) error { return t.loadImages(ctx, images) }},
		// The stack is deployed as soon as its images are on every node; labprobe and the
		// student files go in while its tasks start and pass their first health checks.
		{Name: "deploy the day2 stack", Timeout: 2 * time.Minute, Run: func(ctx context.Context) error {
			ids := make([]string, len(images))
			for i, img := range images {
				ids[i] = img.ID
			}
			return t.deploy(ctx, d.Port, res.Mesh == plan.MeshHost, ids)
		}},
		{Name: "install labprobe", Timeout: 2 * time.Minute, Run: func(ctx context.Context) error { return t.installProbe(ctx, images) }},
		{Name: "install student files", Timeout: time.Minute, Run: t.installStudentFiles},
		{Name: "wait for the day2 stack", Timeout: timing.Converge + time.Minute, Run: func(ctx context.Context) error {
			mgr, _ := steps.FirstManager(t.nodes)
			return WaitForReplicas(ctx, mgr, day2.StackName, t.timing)
		}},
	})
	res.Actions = t.List()
	if err != nil {
		return res, err
	}
	for _, n := range nodes {
		res.AppURLs = append(res.AppURLs, fmt.Sprintf("http://%s:%d/", n.IP, d.Port))
	}
	return res, nil
}

// HasIPVS reports whether the kernel under node n offers IPVS, which swarm's routing mesh
// and service VIPs need: loaded, or as a module its dockerd loads (a VM guest, a machine; a
// dind node sees no modules, so there it must be loaded on the Docker host). The host
// preflight reads the same script.
func HasIPVS(ctx context.Context, n Node) (bool, error) {
	out, err := n.Run.Run(ctx, plan.IPVSScript)
	loaded, module := plan.ParseIPVS(out)
	return loaded || module, err
}

// ErrNoIPVS explains, in an instructor's words, why ingress mode cannot work here.
const ErrNoIPVS = "the Docker host's kernel has no IPVS (the ip_vs module), so swarm's routing mesh cannot work: " +
	"ports published the usual way (--publish 8080:3000) will not answer. Load it on the host (modprobe ip_vs) " +
	"and run pulumi up again, or set labfleet:routingMesh to host (or auto) to publish in host mode with DNS round robin"

func (t *team) chooseMesh(ctx context.Context, want plan.RoutingMesh, note func(string)) (plan.RoutingMesh, error) {
	if want == plan.MeshHost {
		return plan.MeshHost, nil
	}
	ipvs, err := HasIPVS(ctx, t.nodes[0])
	if err != nil {
		return "", err
	}
	switch {
	case ipvs:
		return plan.MeshIngress, nil
	case want == plan.MeshIngress:
		return "", fmt.Errorf("labfleet:routingMesh is ingress, but %s", ErrNoIPVS)
	default:
		note("no IPVS on this host, so no routing mesh: day2 is published in host mode with DNS round robin (an edge proxy per node); " +
			"students' --publish 8080:3000 will not answer: give them the host-mode recipe (a dnsrr service plus a global edge proxy on day2_lab) from docs/day2.md, Routing mesh")
		return plan.MeshHost, nil
	}
}

// loadImages streams every image into every node that lacks it, all nodes in parallel.
func (t *team) loadImages(ctx context.Context, images []Image) error {
	return t.eachNode(func(n Node) error {
		for _, img := range images {
			if err := t.loadImage(ctx, n, img); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *team) loadImage(ctx context.Context, n Node, img Image) error {
	took, err := images.Load(ctx, n, img.Image)
	if took > 0 {
		t.Did("load %s into %s (%s)", img.NodeRef, n.Name, took.Round(time.Millisecond))
	}
	return err
}

// installProbe puts labprobe on every node whose copy did not come from this image: read
// once out of the improved-app image on the Docker host (only when some node needs it, so
// a rerun reads nothing), then streamed in. Starting a container on every node to copy it
// out instead took over 2 minutes on a VM guest busy with the stack's first health checks.
func (t *team) installProbe(ctx context.Context, images []Image) error {
	var source Image
	for _, img := range images {
		if img.Name == "improved-app" {
			source = img
		}
	}
	if source.Image == nil {
		return fmt.Errorf("no improved-app image to take labprobe from")
	}
	stamp := "/etc/labfleet/labprobe.image"
	return t.eachNode(func(n Node) error {
		have, _ := n.Run.Run(ctx, "cat "+stamp+" 2>/dev/null || true")
		if strings.TrimSpace(have) == source.ID {
			return nil
		}
		probe, err := source.ReadFile(ctx, "/labprobe")
		if err != nil {
			return err
		}
		if _, err := remote.WriteFile(ctx, n.Run, remote.File{Path: labprobePath, Content: bytes.NewReader(probe), Mode: "0755", Owner: remote.AsRoot}); err != nil {
			return err
		}
		if _, err := remote.WriteFile(ctx, n.Run, remote.File{Path: stamp, Content: strings.NewReader(source.ID + "\n"), Mode: "0644", Owner: remote.AsRoot}); err != nil {
			return err
		}
		t.Did("install labprobe on %s", n.Name)
		return nil
	})
}

// installStudentFiles puts the course's curl-format.txt in the student's home directory.
func (t *team) installStudentFiles(ctx context.Context) error {
	return t.eachNode(func(n Node) error {
		wrote, err := remote.WriteFile(ctx, n.Run, remote.File{Path: plan.StudentHome + "/curl-format.txt", Content: strings.NewReader(day2.CurlFormat), Mode: "0644", Owner: plan.SSHUser})
		if wrote {
			t.Did("write curl-format.txt on %s", n.Name)
		}
		return err
	})
}

// deploy deploys the day2 stack from the first manager unless the running one carries the
// same hash and is as labfleet left it; the "wait for the day2 stack" step then waits until
// every service runs all its replicas. What students changed in it (scaled, removed a
// service) is put back and reported; services that are not the stack's are never touched.
func (t *team) deploy(ctx context.Context, port int, hostMode bool, imageIDs []string) error {
	stack, err := day2.Render(port, hostMode, imageIDs)
	if err != nil {
		return err
	}
	mgr, _ := steps.FirstManager(t.nodes)
	drift, err := stackDrift(ctx, mgr, stack)
	if err != nil {
		return err
	}
	// The students' copy, to read; labfleet deploys from its own, which they cannot change.
	file := day2.StackName + "-stack.yml"
	wrote, err := remote.WriteFile(ctx, mgr.Run, remote.File{Path: path.Join(plan.StudentHome, "labfleet", file), Content: strings.NewReader(stack.YAML), Mode: "0644", Owner: plan.SSHUser})
	if err != nil {
		return err
	}
	if wrote {
		t.Did("write ~/labfleet/%s on %s", file, mgr.Name)
	}
	if drift != "" {
		file := path.Join("labfleet", file)
		if _, err := remote.WriteFile(ctx, mgr.Run, remote.File{Path: file, Content: strings.NewReader(stack.YAML), Mode: "0644", Owner: remote.AsLoginUser}); err != nil {
			return err
		}
		if _, err := mgr.Run.Run(ctx, fmt.Sprintf("docker stack deploy --prune --resolve-image never -c %s %s", file, day2.StackName)); err != nil {
			return err
		}
		t.Did("deploy stack %s (%s) from %s: %s", day2.StackName, stack.Hash, mgr.Name, drift)
	}
	return nil
}

// stackDrift compares the deployed day2 stack with the rendered one and says why it must
// be deployed again, or "" when it is as labfleet left it.
func stackDrift(ctx context.Context, mgr Node, stack day2.Stack) (string, error) {
	out, err := mgr.Run.Run(ctx, fmt.Sprintf(`docker service ls --filter label=com.docker.stack.namespace=%s --format '{{.Name}}' | xargs -r docker service inspect --format '{{.Spec.Name}} {{index .Spec.Labels "labfleet.stack-hash"}} {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}'`, day2.StackName))
	if err != nil {
		return "", err
	}
	deployed := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			deployed[f[0]] = f[1:]
		}
	}
	if len(deployed) == 0 {
		return "it was not there yet", nil
	}
	var drift []string
	for _, svc := range stack.Services {
		f, ok := deployed[svc.Name]
		switch {
		case !ok:
			drift = append(drift, svc.Name+" was removed")
		case svc.Name == stack.Services[0].Name && (len(f) < 1 || f[0] != stack.Hash):
			return "the stack changed (labfleet upgrade, settings or images)", nil
		case len(f) >= 2 && svc.Replicas != "" && f[len(f)-1] != svc.Replicas:
			drift = append(drift, fmt.Sprintf("%s was scaled to %s, restored to %s", svc.Name, f[len(f)-1], svc.Replicas))
		}
	}
	return strings.Join(drift, ", "), nil
}

// Remove takes the day2 stack off a team's swarm (labfleet:day2Stack false, e.g. on day 3).
// The images stay on the nodes.
func Remove(ctx context.Context, teamName string, nodes []Node) (removed bool, err error) {
	mgr, ok := steps.FirstManager(nodes)
	if !ok {
		return false, nil
	}
	err = steps.Run(ctx, teamName, []steps.Step{{Name: "remove the day2 stack", Timeout: time.Minute, Run: func(ctx context.Context) error {
		// Done when nothing of the stack is listed any more, so that its tasks have stopped
		// and a rerun finds nothing to do.
		return steps.Poll(ctx, "the day2 stack's network still there while its tasks stop", 50*time.Second, time.Second, func(ctx context.Context) (bool, error) {
			out, err := mgr.Run.Run(ctx, removeStack)
			// A network still in use means the services went in this try.
			removed = removed || strings.TrimSpace(out) == "removed" || stackNetworkInUse.MatchString(fmt.Sprint(err))
			if err != nil {
				return !stackNetworkLeft(err), err
			}
			return strings.TrimSpace(out) == "gone", nil
		})
	}}})
	return removed, err
}

// removeStack removes the day2 stack while any of it is listed: its services (which stack ls
// lists), or its network, which stays listed on the manager until the tasks on it have
// stopped. It prints "gone" when nothing is.
// A manager whose dockerd does not answer fails the lookups, never reads as "gone".
var removeStack = fmt.Sprintf("stacks=$(docker stack ls --format '{{.Name}}') && networks=$(docker network ls -q --filter label=com.docker.stack.namespace=%[1]s) || exit 1; "+
	"if printf '%%s\\n' \"$stacks\" | grep -qx %[1]s || [ -n \"$networks\" ]; then docker stack rm %[1]s >/dev/null && echo removed; else echo gone; fi", day2.StackName)

// stackNetworkLeft is whether `docker stack rm` failed only on the stack's network, which
// goes a moment later: still in use by the services' tasks while they stop (the CLI does
// not wait for them), or already removed yet still listed on the manager. Another try then
// finds the stack gone or removes what is left.
func stackNetworkLeft(err error) bool {
	return err != nil && (stackNetworkInUse.MatchString(err.Error()) || stackNetworkGone.MatchString(err.Error()))
}

var (
	stackNetworkInUse = regexp.MustCompile(`network \S+ is in use by task`)
	stackNetworkGone  = regexp.MustCompile(`network \S+ not found`)
)

// WaitForReplicas waits until every service of a stack runs as many tasks as it wants.
func WaitForReplicas(ctx context.Context, mgr Node, stack string, timing Timing) error {
	if timing == (Timing{}) {
		timing = DefaultTiming
	}
	var pending []string
	err := steps.Poll(ctx, "stack "+stack+" not running", timing.Converge, timing.Poll, func(ctx context.Context) (bool, error) {
		out, err := mgr.Run.Run(ctx, fmt.Sprintf("docker stack services --format '{{.Name}} {{.Replicas}}' %s", stack))
		if err != nil {
			return false, err
		}
		pending = NotConverged(out)
		return len(pending) == 0 && strings.TrimSpace(out) != "", nil
	})
	if err != nil && ctx.Err() == nil {
		ps, _ := mgr.Run.Run(ctx, fmt.Sprintf("docker stack ps --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' %s | head -n 12", stack))
		return fmt.Errorf("%w: %s; tasks: %s", err, strings.Join(pending, ", "), strings.ReplaceAll(strings.TrimSpace(ps), "\n", "; "))
	}
	return err
}

// NotConverged reads `docker stack services` lines ("day2_web 2/3") and returns the
// services whose running count differs from the wanted one, or that want none.
func NotConverged(out string) []string {
	var pending []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, replicas, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || name == "" {
			continue
		}
		running, wanted, err := ParseReplicas(replicas)
		if err != nil || running != wanted || wanted == 0 {
			pending = append(pending, line)
		}
	}
	return pending
}

// ParseReplicas reads the running and desired task counts at the start of docker's
// REPLICAS column ("2/3", "3/3 (max 1 per node)").
func ParseReplicas(s string) (running, desired int, err error) {
	count, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	r, d, ok := strings.Cut(count, "/")
	if ok {
		if running, err = strconv.Atoi(r); err == nil {
			desired, err = strconv.Atoi(d)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("cannot read replicas %q", s)
	}
	return running, desired, nil
}

// Images pairs the lab images with their image IDs (by name) on the host whose engine is e;
// their archives go to dir,
// written only if some node needs them, and transfers wait for a slot of streams.
func Images(e plan.Engine, dir string, imgs []day2.Image, ids map[string]string, streams *steps.Limit) ([]Image, error) {
	var out []Image
	for _, img := range imgs {
		id := ids[img.Name]
		if id == "" {
			return nil, fmt.Errorf("image %s: no image ID", img.Name)
		}
		out = append(out, Image{Name: img.Name, Image: images.New(e, img.NodeRef(), id, dir, streams)})
	}
	return out, nil
}
