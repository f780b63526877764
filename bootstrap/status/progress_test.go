package status

import (
	"context"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
)

func TestPhase1IsAnOOMKillOfTheLeakyApp(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want string
	}{
		{"state /vulnerable-app true\n", "vulnerable-app OOM-killed on team1-w1"},
		{"state /vulnerable-app false\nevent leaky memory-leak-app:latest\n", "leaky OOM-killed on team1-w1"},
		{"state /vulnerable-app false\nevent web.1 improved-app:latest\n", ""}, // another image's OOM is not Phase 1
		{"", ""},
	} {
		e, ok := parseOOM("team1-w1", tc.out)
		if ok != (tc.want != "") || e.What != tc.want || e.Seen != ok {
			t.Errorf("%q: %+v %v, want %q", tc.out, e, ok, tc.want)
		}
	}
}

const (
	// As the CLI prints it: the error quoted inside the JSON string.
	killedTask  = `{"CurrentState":"Failed 8 seconds ago","DesiredState":"Shutdown","Error":"\"task: non-zero exit (137)\"","Name":"web-service.3"}`
	runningTask = `{"CurrentState":"Running 13 seconds ago","DesiredState":"Running","Error":"","Name":"web-service.1"}`
	scaleUp     = `{"name":"web-service","replicas.new":"6","replicas.old":"3"}`
	scaleDown   = `{"name":"web-service","replicas.new":"2","replicas.old":"6"}`
)

func phase2Answer(tasks string, events ...string) string {
	out := sectionPrefix + "tasks web-service\n" + tasks + "\n" + sectionPrefix + "events\n"
	for _, e := range events {
		out += e + "\n"
	}
	return out
}

func TestPhase2FromTheTaskHistoryAndTheScaleEvents(t *testing.T) {
	web := Service{Name: "web-service", Image: "improved-app:latest", Mode: "replicated", Running: 2, Desired: 2}
	other := Service{Name: "db", Image: "postgres:16", Mode: "replicated", Running: 1, Desired: 1}
	// The host-mode recipe's global edge proxy runs improved-app on every node: not Phase 2.
	edge := Service{Name: "web-edge", Image: "improved-app:latest", Mode: "global", Running: 3, Desired: 3}
	query := phase2Query([]string{"web-service"})

	m := stepstest.New(t).On(query, phase2Answer(runningTask+"\n"+killedTask, `{"name":"day2_web"}`, scaleUp, scaleDown))
	p, err := phase2(context.Background(), m, []Service{edge, web, other})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Phase2() || p.Replicas3.What != "web-service: scaled from 3" || p.KillHealed.What != "web-service: task web-service.3 killed (non-zero exit (137)), 2/2 running again" ||
		p.Scaled6To2.What != "web-service: scaled to 6, then to 2" {
		t.Errorf("the whole of Phase 2: %+v", p)
	}

	// Killed but not yet whole again; scaled up but not down; 3 running now.
	m = stepstest.New(t).On(query, phase2Answer(killedTask, scaleUp))
	web3 := Service{Name: "web-service", Image: "improved-app:latest", Mode: "replicated", Running: 3, Desired: 6}
	p, err = phase2(context.Background(), m, []Service{web3})
	if err != nil {
		t.Fatal(err)
	}
	if p.Replicas3.What != "web-service: 3/6 running" || p.KillHealed.Seen || p.Scaled6To2.Seen || p.Phase2() {
		t.Errorf("half of Phase 2: %+v", p)
	}

	// A service removed between listing and asking: its part is empty, the rest counts.
	m = stepstest.New(t).On(query, sectionPrefix+"tasks web-service\nError: no such service: web-service\n"+sectionPrefix+"events\n"+scaleUp+"\n"+scaleDown+"\n")
	if p, err := phase2(context.Background(), m, []Service{web}); err != nil || !p.Scaled6To2.Seen || p.KillHealed.Seen {
		t.Errorf("one part unreadable: %+v %v", p, err)
	}

	// No replicated improved-app service of the students': nothing asked, nothing seen.
	none := stepstest.New(t)
	if p, err := phase2(context.Background(), none, []Service{other, edge}); err != nil || p != (Progress{}) || len(none.Commands()) != 0 {
		t.Errorf("no candidate: %+v %v %q", p, err, none.Commands())
	}

	later := Progress{Phase1: seen("x")}
	if merged := later.Merge(Progress{Phase1: seen("first"), Scaled6To2: seen("y")}); merged.Phase1.What != "x" || merged.Scaled6To2.What != "y" || merged.KillHealed.Seen {
		t.Errorf("merge %+v", merged)
	}
}
