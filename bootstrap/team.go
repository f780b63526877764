package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day2"
)

// teamRun is one team's run: what it starts from, and what its stages have opened, found
// and done so far.
type teamRun struct {
	p      *plan.Plan
	team   plan.Team
	keys   *sshkeys.Keys
	opts   Options
	shared cohortInputs

	clients map[string]*sshexec.Client // from the connect stage on
	nodes   []steps.Node               // the same nodes, as the later stages run commands on them
	result  TeamResult
}

// A teamStage is one part of a team's run, with one entry point.
type teamStage struct {
	name string
	only func(*teamRun) bool // nil: every team
	run  func(context.Context, *teamRun) error
	// timeout bounds a stage that is a single step (0: none). swarm, lab and day 3 are
	// made of named steps that each carry their own limit, report themselves and name the
	// team in their errors.
	timeout  time.Duration
	ownSteps bool
}

// teamStages are everything a team's run does, in order. Only the stages before swarm know
// which kind of node they deal with; from "connect" on, a node is an SSH login, whether a
// docker-in-docker container, a VM or an existing machine.
var teamStages = []teamStage{
	// Existing machines become nodes first (machines.go): Docker from the distribution's
	// packages and the accounts, a few minutes.
	{name: "prepare the machines", only: onMachines, run: prepareMachines, timeout: 15 * time.Minute},
	// A step of its own: VM nodes can take minutes to answer SSH, and the heartbeat says so
	// (connect.go).
	{name: "connect", run: connect},
	// KVM or TCG: the pace of every later limit (connect.go).
	{name: "read how the VM guests run", only: vmNodes, run: readAccel, timeout: time.Minute},
	{name: "swarm", run: swarmStage, ownSteps: true},   // bootstrap/swarm
	{name: "day-2 lab", run: labStage, ownSteps: true}, // bootstrap/lab
	{name: "day 3", run: day3Stage, ownSteps: true},    // bootstrap/kindprep
}

func onMachines(t *teamRun) bool { return t.team.OnMachines() }
func vmNodes(t *teamRun) bool    { return t.p.NodeKind == plan.NodeKindVM }

// convergeTeam runs the team's stages in order and stops at the first failure. Every limit
// fits what runs the nodes: the plan's pace for their kind, refined for VM nodes once their
// launcher says how the guests run.
func convergeTeam(ctx context.Context, t *teamRun) (TeamResult, error) {
	defer func() { CloseAll(t.clients) }() // the clients connect opened, if any
	for _, s := range teamStages {
		if s.only != nil && !s.only(t) {
			continue
		}
		ctx := steps.WithPace(ctx, steps.Pace(t.p.Pace(t.team, plan.Accel(t.result.Accel))))
		var err error
		if s.ownSteps {
			err = s.run(ctx, t)
		} else {
			err = steps.Run(ctx, t.team.Name, []steps.Step{{Name: s.name, Timeout: s.timeout, Run: func(ctx context.Context) error { return s.run(ctx, t) }}})
		}
		if err != nil {
			return t.result, err
		}
	}
	return t.result, nil
}

// swarmStage initialises or repairs the team's swarm and joins every node.
func swarmStage(ctx context.Context, t *teamRun) (err error) {
	t.result.Swarm, err = swarm.Converge(ctx, t.team.Name, t.nodes, t.p.ResetSwarms[t.team.Name], t.opts.Swarm)
	return err
}

// labStage deploys the Day-2 lab, or removes its stack when labfleet:day2Stack is off.
func labStage(ctx context.Context, t *teamRun) error {
	if !t.p.Day2.Enabled {
		removed, err := lab.Remove(ctx, t.team.Name, t.nodes)
		if err == nil && removed {
			t.result.Swarm.Actions = append(t.result.Swarm.Actions, "remove the day2 stack (labfleet:day2Stack is off)")
		}
		return err
	}
	r, err := lab.Setup(ctx, t.team.Name, t.nodes, t.p.Day2, t.shared.labImages[t.team.Host], t.opts.Lab)
	t.result.Lab = &r
	return err
}

// day3Stage prepares Day 3 (kind, kubectl, the node image) and creates or deletes the
// team's kind cluster, as the plan says.
func day3Stage(ctx context.Context, t *teamRun) error {
	day3 := t.shared.day3
	if err := day3.imageError[t.team.Host]; err != nil {
		return fmt.Errorf("team %q: day 3: %w", t.team.Name, err)
	}
	var labRefs []string
	for _, img := range day2.Images {
		labRefs = append(labRefs, img.NodeRef())
	}
	r, err := kindprep.Setup(ctx, t.p.Day3, t.team, t.nodes, day3.tools, day3.nodeImage[t.team.Host], labRefs, t.opts.Kind)
	t.result.Kind = &r
	return err
}
