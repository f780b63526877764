package bootstrap

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/model/plan"
)

func TestSummaryTableHasARowPerTeamWithStateChangesAndTime(t *testing.T) {
	got := summaryTable([]*teamOutcome{
		{team: plan.Team{Name: "team1"}, took: 15200 * time.Millisecond, result: TeamResult{
			Swarm: swarm.Result{Actions: []string{"init the swarm on team1-m1", "join team1-w1", "join team1-w2"}},
			Lab:   &lab.Result{Actions: []string{"load improved-app into team1-m1", "deploy day2"}},
		}},
		{team: plan.Team{Name: "team2"}, took: 800 * time.Millisecond},
		{team: plan.Team{Name: "team10"}, took: 95 * time.Second, err: errors.New("team \"team10\": join nodes: node team10-w1: exit code 1\nstderr: no route")},
	})
	want := strings.Join([]string{
		"summary: 2 of 3 teams ready",
		"TEAM    STATE   TIME   CHANGED",
		"team1   ready   15.2s  init the swarm on team1-m1; join team1-w1; join team1-w2; +2 more",
		"team2   ready   0.8s   no changes",
		`team10  FAILED  1m35s  team "team10": join nodes: node team10-w1: exit code 1`,
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
