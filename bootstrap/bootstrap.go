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
	"slices"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
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

// Reporter hears a run's progress (steps.Reporter): the program gives one that writes to
// Pulumi's log.
type Reporter = steps.Reporter

// ErrUnreachable marks an error from a node or machine that did not answer SSH at all, as
// opposed to one that answered and failed (sshexec.ErrUnreachable).
var ErrUnreachable = sshexec.ErrUnreachable

// KindOutput is a team's kind output: the cluster, the node that runs it, its API server and
// its state ("running" on day 3); empty before Day 3 was ever prepared.
func (r TeamResult) KindOutput() map[string]string {
	k := r.Kind
	if k == nil || k.ClusterName == "" {
		return map[string]string{}
	}
	state := "absent (labfleet:day is 2)"
	if k.Kubeconfig != "" {
		state = "running"
	}
	return map[string]string{"cluster": k.ClusterName, "hostNode": k.HostNode, "apiServer": k.APIServer, "state": state}
}

// LabImages are the Day-2 lab images' IDs on each host: host name -> image name -> ID.
type LabImages map[string]map[string]string

// LocalLabImages are lab image IDs on the local host of a cohort without labfleet:hosts.
func LocalLabImages(ids map[string]string) LabImages { return LabImages{plan.LocalHost: ids} }

// Cohort converges every team's swarm and, when the plan enables it, sets up the Day-2 lab
// with the lab images whose IDs on each host are given, and Day 3. It runs in two parts:
// the cohort-wide work (cohortwide.go: image archives, Day 3's tools and node images), whose
// failure stops every team, then every team's own run (team.go: the stages listed once, in
// order), whose failure stops only that team. At most p.Parallel.Teams teams run at once;
// teams on different hosts run the same way. It returns the result of every team that
// succeeded, even when others failed; the error, if any, lists every failed team (team,
// node, step). When ctx ends (Ctrl-C), every SSH command is stopped and Cohort returns
// within seconds.
func Cohort(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs LabImages, opts Options) (map[string]TeamResult, error) {
	if opts.Report == nil {
		opts.Report = steps.Quiet{}
	}
	report := opts.Report
	ctx = steps.WithReporter(ctx, report)
	shared, cleanup, err := prepareCohort(ctx, p, labImageIDs, &opts)
	if err != nil {
		return nil, err
	}
	defer cleanup()
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
			o.result, err = convergeTeam(ctx, &teamRun{p: p, team: o.team, keys: keys, opts: opts, shared: shared})
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
