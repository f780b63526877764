package status

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sampleReport is a cohort of two teams: team1 ready (a drained worker, a student's
// services), team2 with an unreachable node and a lab service short of a task, on day 3.
func sampleReport() Report {
	return Report{Cohort: "spring-26", TookMS: 1234, Teams: []TeamStatus{
		{Team: "team1", Host: "local", Ready: true, Problems: []string{},
			Nodes: []NodeStatus{
				{Name: "team1-m1", Role: "manager", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active", ManagerStatus: "Leader"},
				{Name: "team1-w1", Role: "worker", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active"},
				{Name: "team1-w2", Role: "worker", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Drain"},
			},
			Day2: []Service{{Name: "day2_web", Mode: "replicated", Running: 3, Desired: 3}},
			Students: []Service{
				{Name: "a", Mode: "replicated", Running: 1, Desired: 1}, {Name: "b", Mode: "replicated", Running: 0, Desired: 2},
				{Name: "c", Mode: "global", Running: 3, Desired: 3}, {Name: "d", Mode: "replicated", Running: 1, Desired: 1},
				{Name: "e", Mode: "replicated", Running: 1, Desired: 1},
			}},
		{Team: "team2", Host: "big2", Problems: []string{"team2-w1: unreachable: connection refused", "day2_web: 2 of 3 tasks running"},
			Nodes: []NodeStatus{
				{Name: "team2-m1", Role: "manager", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active", ManagerStatus: "Leader"},
				{Name: "team2-w1", Role: "worker", Error: "unreachable: connection refused", Status: "Down", Availability: "Active"},
				{Name: "team2-w2", Role: "worker", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active"},
			},
			Day2:     []Service{{Name: "day2_web", Mode: "replicated", Running: 2, Desired: 3}},
			Students: []Service{},
			Kind:     &KindState{Cluster: "team2", HostNode: "team2-m1", Nodes: []KindNode{{Name: "team2-control-plane", Role: "control-plane", Ready: true}, {Name: "team2-worker", Role: "worker"}}}},
	}}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteTable(&b, false); err != nil {
		t.Fatal(err)
	}
	want := `cohort spring-26: 2 teams, 6 nodes, checked in 1.234s

TEAM   HOST   NODES  SWARM                           DAY-2 STACK  STUDENTS' SERVICES            KIND       STATE
team1  local  3/3    3/3 Ready, m1 leader, w2 drain  web 3/3      a 1/1, b 0/2, c 3/3, +2 more  -          ready
team2  big2   2/3    2/3 Ready, m1 leader            web 2/3      -                             1/2 Ready  NOT READY

team2 is not ready:
  team2-w1: unreachable: connection refused
  day2_web: 2 of 3 tasks running

1 of 2 teams not ready: team2
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("colour without a terminal")
	}
}

func TestTableInColour(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteTable(&b, true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{green + "ready" + reset + "\n", red + "NOT READY" + reset + "\n", "  " + red + "day2_web: 2 of 3 tasks running" + reset + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// Colour only ends lines, so the columns stay aligned as without it.
	var plain strings.Builder
	_ = sampleReport().WriteTable(&plain, false)
	for _, c := range []string{green, red, reset} {
		out = strings.ReplaceAll(out, c, "")
	}
	if out != plain.String() {
		t.Errorf("colour changed the layout:\n%s", out)
	}
	var ready strings.Builder
	r := sampleReport()
	r.Teams = r.Teams[:1]
	_ = r.WriteTable(&ready, true)
	if !strings.HasSuffix(ready.String(), green+"all 1 team ready"+reset+"\n") {
		t.Errorf("ready cohort:\n%s", ready.String())
	}
}

func TestJSON(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal([]byte(b.String()), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sampleReport()) {
		t.Errorf("round trip:\n%+v", back)
	}
	// The field names scripts rely on.
	var raw struct {
		Teams []map[string]json.RawMessage `json:"teams"`
	}
	_ = json.Unmarshal([]byte(b.String()), &raw)
	for _, key := range []string{"team", "ready", "problems", "nodes", "day2", "studentServices", "kind"} {
		if _, ok := raw.Teams[1][key]; !ok {
			t.Errorf("team2 has no %q in %s", key, b.String())
		}
	}
	for _, key := range []string{`"cohort": "spring-26"`, `"ready": false`, `"tookMs": 1234`, `"managerStatus": "Leader"`, `"reachable": false`, `"hostNode": "team2-m1"`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestNotReadyAndProblems(t *testing.T) {
	r := sampleReport()
	if got := r.NotReady(); !reflect.DeepEqual(got, []string{"team2"}) {
		t.Errorf("not ready: %v", got)
	}
	if got, want := r.Problems(), []string{"team2: team2-w1: unreachable: connection refused", "team2: day2_web: 2 of 3 tasks running"}; !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	r.Teams[1] = r.Teams[0]
	if r.NotReady() != nil || r.Problems() != nil {
		t.Errorf("a ready cohort: %v %v", r.NotReady(), r.Problems())
	}
}
