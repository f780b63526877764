package status

import (
	"cmp"
	"fmt"
	"time"
)

// The instructor's live page (make dashboard) shows a Report as a View: the same cells as
// the status table, each with the state the page colours it by, worked out here so that the
// page only draws.

// CellState is how the page colours a cell.
type CellState string

const (
	CellOK   CellState = "ok"   // as it should be
	CellBad  CellState = "bad"  // something is wrong: the team's problems say what
	CellNone CellState = "none" // nothing to judge (off today, or the students' own)
	CellSeen CellState = "seen" // a lab phase the team's nodes show evidence of
)

// Cell is one cell of a team's row.
type Cell struct {
	Text  string    `json:"text"`
	State CellState `json:"state"`
}

// NodeCell is one node of a team's row.
type NodeCell struct {
	Name  string    `json:"name"`
	State CellState `json:"state"`
	Why   string    `json:"why,omitempty"`
}

// TeamView is one team's row.
type TeamView struct {
	Team     string     `json:"team"`
	Ready    bool       `json:"ready"`
	Host     Cell       `json:"host"`
	Nodes    []NodeCell `json:"nodes"`
	Swarm    Cell       `json:"swarm"`
	Day2     Cell       `json:"day2"`
	Students Cell       `json:"students"`
	Kind     Cell       `json:"kind"`
	Phase1   Cell       `json:"phase1"`
	Phase2   Cell       `json:"phase2"`
	Phase3   Cell       `json:"phase3"`
	Problems []string   `json:"problems"`
}

// View is the page's data: no key, token or kubeconfig is in a Report, so none is here.
type View struct {
	Cohort    string     `json:"cohort"`
	CheckedAt time.Time  `json:"checkedAt"`
	TookMS    int64      `json:"tookMs"`
	Ready     int        `json:"ready"`
	Teams     []TeamView `json:"teams"`
}

// ViewOf is the page's view of a report checked at checkedAt.
func ViewOf(r Report, checkedAt time.Time) View {
	v := View{Cohort: r.Cohort, CheckedAt: checkedAt.UTC(), TookMS: r.TookMS, Teams: []TeamView{}}
	for _, t := range r.Teams {
		if t.Ready {
			v.Ready++
		}
		v.Teams = append(v.Teams, t.view())
	}
	return v
}

func (t TeamStatus) view() TeamView {
	v := TeamView{
		Team: t.Team, Ready: t.Ready, Problems: t.Problems,
		Host:     Cell{Text: cmp.Or(t.Host, "-"), State: CellNone},
		Swarm:    Cell{Text: t.swarmCell(), State: t.swarmState()},
		Day2:     Cell{Text: day2Cell(t.Day2), State: servicesState(t.Day2)},
		Students: Cell{Text: studentsCell(t.Students), State: CellNone},
		Kind:     Cell{Text: kindCell(t.Kind), State: kindState(t.Kind)},
		Phase1:   evidenceCell(t.Progress.Phase1),
		Phase2:   t.Progress.phase2Cell(),
		Phase3:   t.phase3Cell(),
	}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	for _, n := range t.Nodes {
		c := NodeCell{Name: n.Name, State: CellOK}
		if n.Error != "" {
			c.State, c.Why = CellBad, n.Error
		}
		v.Nodes = append(v.Nodes, c)
	}
	return v
}

// swarmState is bad when a member is not Ready and active, or no manager listed them.
func (t TeamStatus) swarmState() CellState {
	listed := 0
	for _, n := range t.Nodes {
		if n.Status == "" {
			continue
		}
		listed++
		if n.Status != "Ready" || (n.Availability != "" && n.Availability != "Active") {
			return CellBad
		}
	}
	if listed < len(t.Nodes) {
		return CellBad
	}
	return CellOK
}

func servicesState(services []Service) CellState {
	if len(services) == 0 {
		return CellNone
	}
	for _, s := range services {
		if s.Desired == 0 || s.Running < s.Desired {
			return CellBad
		}
	}
	return CellOK
}

func kindState(k *KindState) CellState {
	if k == nil {
		return CellNone
	}
	for _, n := range k.Nodes {
		if !n.Ready {
			return CellBad
		}
	}
	if len(k.Nodes) == 0 {
		return CellBad
	}
	return CellOK
}

// evidenceCell says what showed a step, or that it was not seen yet.
func evidenceCell(e Evidence) Cell {
	if !e.Seen {
		return Cell{Text: "not yet", State: CellNone}
	}
	return Cell{Text: e.What, State: CellSeen}
}

// phase2Cell lists Phase 2's steps, each seen or not; it is "seen" once all are.
func (p Progress) phase2Cell() Cell {
	mark := func(e Evidence) string {
		if e.Seen {
			return "yes"
		}
		return "not yet"
	}
	c := Cell{Text: fmt.Sprintf("3 replicas: %s; a task killed and healed: %s; 6 then 2: %s", mark(p.Replicas3), mark(p.KillHealed), mark(p.Scaled6To2)), State: CellNone}
	if p.Phase2() {
		c.State = CellSeen
	}
	return c
}

// phase3Cell counts the team's kept labprobe runs of each compared phase.
func (t TeamStatus) phase3Cell() Cell {
	single, swarm := 0, 0
	for _, r := range t.Runs {
		switch r.Phase {
		case PhaseSingle:
			single++
		case PhaseSwarm:
			swarm++
		}
	}
	if single+swarm == 0 {
		return Cell{Text: "no run yet", State: CellNone}
	}
	return Cell{Text: fmt.Sprintf("%d single, %d swarm", single, swarm), State: CellSeen}
}
