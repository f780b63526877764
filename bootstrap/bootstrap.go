// Package bootstrap turns running nodes (containers, or existing machines it first prepares)
// into working team swarms over SSH, puts the Day-2 lab on them and, on day 3, a kind cluster
// per team; it never imports the Pulumi SDK. Cohort is the entry point the Pulumi program
// calls. Teams are independent: they converge concurrently, and one
// team's failure is reported with its team and node names without stopping or undoing the
// others.
package bootstrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Options tune a run; the zero value is what `pulumi up` uses.
type Options struct {
	SSH   sshexec.Options
	Swarm swarm.Timing
	Lab   lab.Timing
	Kind  kindprep.Timing
	// Report hears every team's steps as they start, progress and finish, the notes, and
	// the closing summary table (nil: nothing is reported).
	Report steps.Reporter
	// RepoDir is the labfleet module, where Day 3's kind, kubectl and node image are built
	// (default ".", the project directory Pulumi runs the program in); CacheDir keeps what
	// was built (default the user's cache directory, labfleet/).
	RepoDir, CacheDir string
}

// TeamResult is one team's converged state.
type TeamResult struct {
	// Accel is how the team's VM nodes run ("kvm" or "tcg", as their launcher chose); empty
	// for dind nodes.
	Accel string
	// Machines is what preparing the team's existing machines changed (nil for containers).
	Machines []string
	Swarm    swarm.Result
	Lab      *lab.Result      // nil when the Day-2 stack is off
	Kind     *kindprep.Result // Day-3 preparation and cluster
}

// LabImages are the Day-2 lab images' IDs on each host: host name -> image name -> ID.
type LabImages map[string]map[string]string

// LocalLabImages are lab image IDs on the local host of a cohort without labfleet:hosts.
func LocalLabImages(ids map[string]string) LabImages { return LabImages{plan.LocalHost: ids} }

// Cohort converges every team's swarm and, when the plan enables it, sets up the Day-2 lab
// with the lab images whose IDs on each host are given. At most p.Parallel.Teams teams run
// at once; teams on different hosts run the same way, since every step after "the nodes
// answer SSH" is the same wherever a node runs. It returns the result of every team that succeeded,
// even when others failed; the error, if any, lists every failed team (team, node, step).
// When ctx ends (Ctrl-C), every SSH command is stopped and Cohort returns within seconds.
func Cohort(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs LabImages, opts Options) (map[string]TeamResult, error) {
	if opts.Report == nil {
		opts.Report = steps.Quiet{}
	}
	report := opts.Report
	ctx = steps.WithReporter(ctx, report)
	// Image archives land here, written only when some node needs one.
	archives, err := os.MkdirTemp("", "labfleet-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(archives)
	streams := steps.NewLimit(p.Parallel.Streams)
	labImages := map[string][]lab.Image{}
	for _, h := range usedHosts(p) {
		// Each host's archives apart: the same image has another ID on another host.
		dir := filepath.Join(archives, h.Name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		if p.Day2.Enabled {
			if labImages[h.Name], err = lab.Images(h.Engine, dir, day2.Images, labImageIDs[h.Name], streams); err != nil {
				return nil, fmt.Errorf("host %s: %w", h.Name, err)
			}
		}
	}
	day3, err := prepareDay3(ctx, p, archives, streams, &opts)
	if err != nil {
		return nil, err
	}
	outcomes := make([]*teamOutcome, len(p.Teams))
	for i, t := range p.Teams {
		outcomes[i] = &teamOutcome{team: t}
	}
	teams := steps.NewLimit(p.Parallel.Teams)
	err = steps.Each(outcomes, func(o *teamOutcome) error {
		name := o.team.Name
		if len(p.Teams) > p.Parallel.Teams {
			report.Status(name, fmt.Sprintf("waiting for a turn (labfleet:parallelTeams is %d)", p.Parallel.Teams))
		}
		o.err = teams.Do(ctx, func() error {
			// The clock starts with the team's turn: a team's time is its own work.
			start := time.Now()
			defer func() { o.took = time.Since(start) }()
			var err error
			o.result, err = convergeTeam(ctx, p, o.team, keys, labImages[o.team.Host], day3, opts)
			return err
		})
		if o.err != nil {
			report.Info(name, fmt.Sprintf("FAILED after %s: %v", steps.Elapsed(o.took), o.err))
			return o.err
		}
		r := o.result
		report.Info(name, fmt.Sprintf("swarm %s ready in %s: %s", r.Swarm.ClusterID, steps.Elapsed(o.took), r.summary()))
		if r.Accel == "tcg" {
			report.Info(name, "note: its VM nodes run under TCG emulation (no usable KVM on this host): slow, but they work")
		}
		var notes []string
		if r.Lab != nil {
			notes = r.Lab.Notes
		}
		if r.Kind != nil {
			notes = append(notes, r.Kind.Notes...)
		}
		for _, n := range notes {
			report.Info(name, "note: "+n)
		}
		return nil
	})
	results := map[string]TeamResult{}
	for _, o := range outcomes {
		if o.err == nil {
			results[o.team.Name] = o.result
		}
	}
	report.Info("", summaryTable(outcomes))
	return results, err
}

// actions lists everything a team's run changed, in the order it did them.
func (r TeamResult) actions() []string {
	actions := slices.Concat(r.Machines, r.Swarm.Actions)
	if r.Lab != nil {
		actions = append(actions, r.Lab.Actions...)
	}
	if r.Kind != nil {
		actions = append(actions, r.Kind.Actions...)
	}
	return actions
}

// summary lists everything a team's run changed, or says there was nothing to do.
func (r TeamResult) summary() string {
	if actions := r.actions(); len(actions) > 0 {
		return strings.Join(actions, "; ")
	}
	return "no changes"
}

// Connect opens an SSH client to every node of a team, concurrently, as labfleet's own
// admin user: students cannot lock it out by changing their account or the team key. On error every
// client already opened is closed. How long it waits for a node's sshd to answer scales
// with the Pace ctx carries: a VM guest under TCG takes a minute to boot.
func Connect(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, opts sshexec.Options) (map[string]*sshexec.Client, error) {
	if opts == (sshexec.Options{}) {
		opts = sshexec.DefaultOptions
	}
	pace := steps.PaceOf(ctx)
	opts.RetryFor, opts.AttemptTimeout = pace.Scale(opts.RetryFor), pace.Scale(opts.AttemptTimeout)
	clients := map[string]*sshexec.Client{}
	var mu sync.Mutex
	admin := keys.Admin().Signer()
	err := steps.Each(team.Nodes, func(n plan.Node) error {
		hostKey, err := nodeHostKey(n, keys)
		if err != nil {
			return err
		}
		c, err := sshexec.Dial(ctx, sshexec.Target{
			Node:    n.Name,
			Addr:    p.SSHTarget(n),
			User:    plan.AdminUser,
			Signer:  admin,
			HostKey: hostKey,
		}, opts)
		if err != nil {
			return err
		}
		mu.Lock()
		clients[n.Name] = c
		mu.Unlock()
		return nil
	})
	if err != nil {
		CloseAll(clients)
		return nil, err
	}
	return clients, nil
}

// CloseAll closes every client.
func CloseAll(clients map[string]*sshexec.Client) {
	for _, c := range clients {
		c.Close()
	}
}

func convergeTeam(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, labImages []lab.Image, day3 day3Inputs, opts Options) (TeamResult, error) {
	var r TeamResult
	var clients map[string]*sshexec.Client
	// Every limit below fits what runs the nodes; for VM nodes the plan's guess is refined
	// once the launcher says how the guests run.
	ctx = steps.WithPace(ctx, steps.Pace(p.Pace(team, "")))
	var connect []steps.Step
	if team.OnMachines() {
		// Existing machines become nodes first: after this step nothing tells them apart.
		// Installing Docker from the distribution's packages takes a few minutes.
		connect = append(connect, steps.Step{Name: "prepare the machines", Timeout: 15 * time.Minute, Run: func(ctx context.Context) (err error) {
			r.Machines, err = prepareMachines(ctx, p, team, keys, opts.SSH)
			return err
		}})
	}
	// A step of its own: VM nodes can take minutes to answer SSH, and the heartbeat says so.
	connect = append(connect, steps.Step{Name: "connect", Run: func(ctx context.Context) (err error) {
		clients, err = Connect(ctx, p, team, keys, opts.SSH)
		return err
	}})
	if p.NodeKind == plan.NodeKindVM {
		connect = append(connect, steps.Step{Name: "read how the VM guests run", Timeout: time.Minute, Run: func(ctx context.Context) error {
			out, err := clients[team.Nodes[0].Name].Run(ctx, "cat /etc/labfleet/accel")
			r.Accel = strings.TrimSpace(out)
			return err
		}})
	}
	err := steps.Run(ctx, team.Name, connect)
	defer func() { CloseAll(clients) }() // the clients Connect opened, if any
	if err != nil {
		return r, err
	}
	if r.Accel != "" {
		ctx = steps.WithPace(ctx, steps.Pace(p.Pace(team, plan.Accel(r.Accel))))
	}
	nodes := make([]steps.Node, len(team.Nodes))
	for i, n := range team.Nodes {
		nodes[i] = steps.Node{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: clients[n.Name]}
	}
	if r.Swarm, err = swarm.Converge(ctx, team.Name, nodes, p.ResetSwarms[team.Name], opts.Swarm); err != nil {
		return r, err
	}
	if p.Day2.Enabled {
		labResult, err := lab.Setup(ctx, team.Name, nodes, p.Day2, labImages, opts.Lab)
		r.Lab = &labResult
		if err != nil {
			return r, err
		}
	} else if removed, err := lab.Remove(ctx, team.Name, nodes); err != nil {
		return r, err
	} else if removed {
		r.Swarm.Actions = append(r.Swarm.Actions, "remove the day2 stack (labfleet:day2Stack is off)")
	}
	if err := day3.imageError[team.Host]; err != nil {
		return r, fmt.Errorf("team %q: day 3: %w", team.Name, err)
	}
	var labRefs []string
	for _, img := range day2.Images {
		labRefs = append(labRefs, img.NodeRef())
	}
	kindResult, err := kindprep.Setup(ctx, p.Day3, team, nodes, day3.tools, day3.nodeImage[team.Host], labRefs, opts.Kind)
	r.Kind = &kindResult
	return r, err
}

// usedHosts are the hosts whose images some team uses, in plan order: their own teams',
// and those of teams on existing machines (the local engine).
func usedHosts(p *plan.Plan) []plan.Host {
	var out []plan.Host
	for _, h := range p.Hosts {
		if len(p.TeamsServedBy(h.Name)) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// day3Inputs are what every team's Day-3 step shares: tools built once, and the kind node
// image found (or built) once on each host, or why it could not be.
type day3Inputs struct {
	tools      kindprep.Tools
	nodeImage  map[string]*images.Image
	imageError map[string]error
}

// prepareDay3 makes sure every host that has teams holds the kind node image, and builds
// kind and kubectl for the nodes. A host whose image cannot be had fails only its own
// teams, when their turn comes (after their swarm and Day-2 lab); what each cluster needs
// of its node is checked in the team's own Day-3 step (kindprep.Preflight).
func prepareDay3(ctx context.Context, p *plan.Plan, archives string, streams *steps.Limit, opts *Options) (day3Inputs, error) {
	in := day3Inputs{nodeImage: map[string]*images.Image{}, imageError: map[string]error{}}
	if !p.Day3.Prepare {
		return in, nil
	}
	for _, h := range usedHosts(p) {
		id, err := kindNodeImage(ctx, p.Day3.NodeImage, h.Engine, opts)
		if err != nil {
			in.imageError[h.Name] = fmt.Errorf("host %s: %w", h.Name, err)
			opts.Report.Info("", fmt.Sprintf("day 3: host %s has no kind node image, so its teams will fail: %v", h.Name, err))
			continue
		}
		in.nodeImage[h.Name] = images.New(h.Engine, p.Day3.NodeImage, id, filepath.Join(archives, h.Name), streams)
	}
	err := steps.Run(ctx, "", []steps.Step{{Name: "build kind and kubectl for the nodes", Run: func(ctx context.Context) (err error) {
		in.tools, err = kindprep.BuildTools(ctx, opts.repoDir(), opts.cacheDir())
		return err
	}}})
	return in, err
}

// kindNodeImage returns the ID of the kind node image ref on a host: there already, pulled
// there (an instructor with a registry, e.g. kindest/node), or, for labfleet's own image,
// built there offline (kindimage: the first time, tens of minutes; then seconds).
func kindNodeImage(ctx context.Context, ref string, e plan.Engine, opts *Options) (string, error) {
	if ref == kindimage.Ref {
		return kindimage.Build(ctx, opts.repoDir(), opts.cacheDir(), e)
	}
	if id := images.HostID(ctx, e, ref); id != "" {
		return id, nil
	}
	if _, err := engine.Docker(ctx, e, "pull", "-q", ref); err != nil {
		return "", fmt.Errorf("labfleet:kindNodeImage %s is not on the Docker host and cannot be pulled there (%v): "+
			"pull it where a registry is reachable and `docker load -i` a saved copy on the host, or leave labfleet:kindNodeImage at its default (%s), which labfleet builds offline", ref, err, kindimage.Ref)
	}
	return images.HostID(ctx, e, ref), nil
}

// repoDir is the labfleet module Day 3 builds from; cacheDir keeps what it built.
func (o *Options) repoDir() string {
	if o.RepoDir == "" {
		return "."
	}
	return o.RepoDir
}

func (o *Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	return kindimage.DefaultCacheDir()
}
