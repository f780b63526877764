package status

import (
	"testing"
	"time"
)

func TestTheViewColoursEachCellByWhatStatusFound(t *testing.T) {
	s := newScriptedTeam(t)
	ready := s.probe()
	s = newScriptedTeam(t)
	s.unreachable("team1-w2")
	s.nodes["team1-m1"].On(runsQuery, keptRun(t)+"\n")
	broken := s.probe()
	v := ViewOf(Report{Cohort: "spring", Teams: []TeamStatus{ready, broken}}, time.Date(2026, 12, 7, 10, 0, 0, 0, time.FixedZone("x", 3600)))
	if v.Ready != 1 || len(v.Teams) != 2 || v.CheckedAt.Location() != time.UTC {
		t.Fatalf("view %+v", v)
	}
	ok, bad := v.Teams[0], v.Teams[1]
	if !ok.Ready || ok.Swarm.State != CellOK || ok.Day2.State != CellOK || ok.Students.State != CellNone || ok.Kind.State != CellNone ||
		ok.Phase3 != (Cell{Text: "no run yet", State: CellNone}) || ok.Phase1 != (Cell{Text: "not yet", State: CellNone}) ||
		ok.Phase2 != (Cell{Text: "3 replicas: not yet; a task killed and healed: not yet; 6 then 2: not yet", State: CellNone}) || len(ok.Problems) != 0 {
		t.Errorf("ready team: %+v", ok)
	}
	for _, n := range ok.Nodes {
		if n.State != CellOK {
			t.Errorf("ready team's node %+v", n)
		}
	}
	if bad.Ready || bad.Nodes[2].State != CellBad || bad.Nodes[2].Why == "" || bad.Nodes[0].State != CellOK || len(bad.Problems) == 0 ||
		bad.Phase3 != (Cell{Text: "0 single, 1 swarm", State: CellSeen}) {
		t.Errorf("team with a node down: %+v", bad)
	}
	done := Progress{Phase1: seen("a"), Replicas3: seen("b"), KillHealed: seen("c"), Scaled6To2: seen("d")}
	if c := done.phase2Cell(); c.State != CellSeen || evidenceCell(done.Phase1) != (Cell{Text: "a", State: CellSeen}) {
		t.Errorf("phase 2 done: %+v", c)
	}
	if servicesState([]Service{{Name: "day2_web", Running: 2, Desired: 3}}) != CellBad || servicesState([]Service{{Name: "day2_web", Desired: 0}}) != CellBad {
		t.Error("a service short of tasks, or scaled to 0, is not bad")
	}
	if kindState(&KindState{Nodes: []KindNode{{Name: "a", Ready: true}, {Name: "b"}}}) != CellBad || kindState(&KindState{}) != CellBad {
		t.Error("a kind cluster with a node not Ready, or none listed, is not bad")
	}
}
