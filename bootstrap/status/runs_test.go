package status

import (
	"os"
	"strings"
	"testing"
	"time"
)

// keptRun is a run exactly as labprobe writes it (its own test pins the file to its writer).
func keptRun(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../stacks/apps/cmd/labprobe/testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRunsKeptOnTheNodesAreReadAndJudgedByWhatAnsweredThem(t *testing.T) {
	s := newScriptedTeam(t)
	swarm := keptRun(t)
	single := strings.NewReplacer(`"servedBy":["a1","b2"]`, `"servedBy":[]`, "09:30:00Z", "09:10:00Z", "09:30:01.5Z", "09:10:01.5Z").Replace(swarm)
	never := `{"url":"http://localhost:8080/health","started":"2026-12-07T09:00:00Z","ended":"2026-12-07T09:00:02Z","checks":8,"ok":0,"availability":0,"outages":1,"longestOutageMs":2000,"recoveries":0,"meanRecoveryMs":0,"notRecoveredMs":2000,"servedBy":[]}`
	s.nodes["team1-m1"].On(runsQuery, swarm+"\n")
	s.nodes["team1-w1"].On(runsQuery, single+"\nnot a run\n{\"url\":\"x\"}\n"+never+"\n")
	got := s.probe()
	if !got.Ready {
		t.Fatalf("runs made the team not ready: %q", got.Problems)
	}
	if len(got.Runs) != 3 {
		t.Fatalf("runs %+v, want the three well-formed ones", got.Runs)
	}
	want := []struct {
		node  string
		phase Phase
		at    string
	}{{"team1-w1", PhaseNone, "09:00:00"}, {"team1-w1", PhaseSingle, "09:10:00"}, {"team1-m1", PhaseSwarm, "09:30:00"}}
	for i, w := range want {
		r := got.Runs[i]
		if r.Node != w.node || r.Phase != w.phase || r.Started.Format(time.TimeOnly) != w.at {
			t.Errorf("run %d: %s %q at %s, want %s %q at %s", i, r.Node, r.Phase, r.Started.Format(time.TimeOnly), w.node, w.phase, w.at)
		}
	}
	r := got.Runs[2]
	if r.URL != "http://localhost:8080/health" || r.Checks != 6 || r.OK != 3 || r.Availability != 50 || r.Outages != 2 ||
		r.LongestOutageMS != 500 || r.Recoveries != 1 || r.MeanRecoveryMS != 500 || r.NotRecoveredMS != 250 || strings.Join(r.ServedBy, ",") != "a1,b2" {
		t.Errorf("the kept run read back as %+v", r)
	}
}
