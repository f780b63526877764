package status

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/outputs"
)

const (
	m1Ready = `{"Availability":"Active","Hostname":"team1-m1","ID":"m1id","ManagerStatus":"Leader","Status":"Ready"}`
	w1Ready = `{"Availability":"Active","Hostname":"team1-w1","ID":"w1id","ManagerStatus":"","Status":"Ready"}`
	w2Ready = `{"Availability":"Active","Hostname":"team1-w2","ID":"w2id","ManagerStatus":"","Status":"Ready"}`
	edge    = `{"ID":"edgeid","Mode":"global","Name":"day2_edge","Replicas":"3/3"}`
	web     = `{"ID":"webid","Mode":"replicated","Name":"day2_web","Replicas":"3/3"}`
	own     = `{"ID":"ownid","Mode":"replicated","Name":"web-service","Replicas":"2/3"}`
	labIDs  = "edgeid\nwebid\n"
)

// managerAnswer is what managerQuery prints for these node and service lines.
func managerAnswer(nodes, services []string, day2IDs string) string {
	return sectionPrefix + "nodes\n" + strings.Join(nodes, "\n") + "\n" + sectionPrefix + "services\n" + strings.Join(services, "\n") + "\n" + sectionPrefix + "day2\n" + day2IDs
}

// scriptedTeam is team1 (1 manager + 2 workers, day2 in host mode) whose nodes all answer,
// every dockerd active, the swarm whole and the day2 stack running, beside a student's
// service that is short of one task.
type scriptedTeam struct {
	team     Team
	nodes    map[string]*stepstest.Node
	dialErrs map[string]error
}

func newScriptedTeam(t *testing.T) *scriptedTeam {
	s := &scriptedTeam{
		team: Team{Name: "team1", LastRun: "ready", Outputs: outputs.Team{
			Nodes: []outputs.Node{
				{Name: "team1-m1", Role: "manager", SSH: "127.0.0.1:2200"},
				{Name: "team1-w1", Role: "worker", SSH: "127.0.0.1:2201"},
				{Name: "team1-w2", Role: "worker", SSH: "127.0.0.1:2202"},
			},
			AppURLs:     []string{"http://172.30.0.10:8090/"},
			RoutingMesh: "host",
			Kind:        map[string]string{},
		}},
		nodes:    map[string]*stepstest.Node{},
		dialErrs: map[string]error{},
	}
	for _, n := range s.team.Outputs.Nodes {
		s.nodes[n.Name] = stepstest.New(t).On("docker info", "active\n").On(runsQuery, "").On(oomQuery, "")
	}
	s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, []string{edge, web, own}, labIDs))
	return s
}

func (s *scriptedTeam) unreachable(node string) {
	delete(s.nodes, node)
	s.dialErrs[node] = errors.New("node " + node + ": ssh 127.0.0.1:2201: still failing after 4 attempts over 2s: connection refused")
}

func (s *scriptedTeam) onDay3(kubectl string) {
	s.team.Outputs.Kind = map[string]string{"cluster": "team1", "hostNode": "team1-m1", "apiServer": "https://172.30.0.10:6443", "state": "running"}
	s.nodes["team1-m1"].On("kc=$(mktemp) && kind get kubeconfig --name team1 ", kubectl)
}

func (s *scriptedTeam) probe() TeamStatus {
	conns := map[string]steps.Runner{}
	for name, n := range s.nodes {
		conns[name] = n
	}
	return probe(context.Background(), s.team, conns, s.dialErrs)
}

// Existing machines keep their own hostnames: each node is found in the swarm by the ID its
// own dockerd reports, so a team of machines is ready, and a replaced node's old entry is
// never taken for it.
func TestNodesAreFoundByTheirOwnSwarmID(t *testing.T) {
	s := newScriptedTeam(t)
	for name, id := range map[string]string{"team1-m1": "m1id", "team1-w1": "w1id", "team1-w2": "w2id"} {
		s.nodes[name].On("docker info", "active "+id+"\n")
	}
	vm := func(entry, host string) string {
		return strings.Replace(entry, `"Hostname":"team1-`+host+`"`, `"Hostname":"vm-`+host+`"`, 1)
	}
	old := strings.Replace(strings.Replace(w1Ready, `"w1id"`, `"oldid"`, 1), `"Ready"`, `"Down"`, 1)
	s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{vm(m1Ready, "m1"), old, vm(w1Ready, "w1"), vm(w2Ready, "w2")}, []string{edge, web}, labIDs))
	if got := s.probe(); !got.Ready || got.Nodes[1].Status != "Ready" {
		t.Errorf("machines with their own hostnames: ready %v, problems %q, w1 %+v", got.Ready, got.Problems, got.Nodes[1])
	}
}

func TestAReadyTeam(t *testing.T) {
	s := newScriptedTeam(t)
	got := s.probe()
	if !got.Ready || len(got.Problems) != 0 {
		t.Fatalf("not ready: %q", got.Problems)
	}
	wantNodes := []NodeStatus{
		{Name: "team1-m1", Role: "manager", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active", ManagerStatus: "Leader"},
		{Name: "team1-w1", Role: "worker", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active"},
		{Name: "team1-w2", Role: "worker", Reachable: true, LocalState: "active", Status: "Ready", Availability: "Active"},
	}
	if !reflect.DeepEqual(got.Nodes, wantNodes) {
		t.Errorf("nodes:\n%+v\nwant\n%+v", got.Nodes, wantNodes)
	}
	wantLab := []Service{{Name: "day2_edge", Mode: "global", Running: 3, Desired: 3}, {Name: "day2_web", Mode: "replicated", Running: 3, Desired: 3}}
	if !reflect.DeepEqual(got.Day2, wantLab) {
		t.Errorf("day2: %+v", got.Day2)
	}
	// The students' service is short of a task: shown, not a problem of labfleet's.
	if want := []Service{{Name: "web-service", Mode: "replicated", Running: 2, Desired: 3}}; !reflect.DeepEqual(got.Students, want) {
		t.Errorf("students' services: %+v", got.Students)
	}
	if got.Kind != nil {
		t.Errorf("kind on day 2: %+v", got.Kind)
	}
	if len(got.Runs) != 0 {
		t.Errorf("probe runs where none were kept: %+v", got.Runs)
	}
	// One command asks the manager everything; status changes nothing anywhere.
	for name, n := range s.nodes {
		for _, cmd := range n.Commands() {
			if cmd != localQuery && cmd != managerQuery && cmd != runsQuery && cmd != oomQuery {
				t.Errorf("%s ran %q", name, cmd)
			}
		}
	}
}

// Each way a team can be broken is named, with the node or service, and only that.
func TestWhatIsNotReady(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*scriptedTeam)
		want  []string
	}{
		{"a node does not answer SSH", func(s *scriptedTeam) {
			s.unreachable("team1-w1")
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, strings.Replace(w1Ready, `"Ready"`, `"Down"`, 1), w2Ready}, []string{edge, web}, labIDs))
		}, []string{"team1-w1: unreachable: ssh 127.0.0.1:2201: still failing after 4 attempts over 2s: connection refused"}},
		{"the only manager does not answer", func(s *scriptedTeam) { s.unreachable("team1-m1") }, []string{
			"team1-m1: unreachable: ssh 127.0.0.1:2201: still failing after 4 attempts over 2s: connection refused",
			"swarm: no manager answers SSH, so the swarm and its services were not checked",
		}},
		{"a node's dockerd is down", func(s *scriptedTeam) {
			s.nodes["team1-w2"].Fail("docker info", errors.New("node team1-w2: `docker info`: exit code 1: Cannot connect to the Docker daemon"))
		}, []string{"team1-w2: dockerd does not answer: `docker info`: exit code 1: Cannot connect to the Docker daemon"}},
		{"a node left the swarm", func(s *scriptedTeam) {
			s.nodes["team1-w2"].On("docker info", "inactive\n")
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready}, []string{edge, web}, labIDs))
		}, []string{"team1-w2: not in the swarm (its dockerd says inactive)"}},
		{"a node is down in the swarm but answers SSH", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, strings.Replace(w2Ready, `"Ready"`, `"Down"`, 1)}, []string{edge, web}, labIDs))
		}, []string{"team1-w2: Down in the swarm"}},
		{"a worker promoted by hand", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, strings.Replace(w1Ready, `"ManagerStatus":""`, `"ManagerStatus":"Reachable"`, 1), w2Ready}, []string{edge, web}, labIDs))
		}, []string{"team1-w1: a manager in the swarm, planned as worker (pulumi up puts it back)"}},
		{"the day2 web service scaled to 0 by a student", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, []string{edge, strings.Replace(web, "3/3", "3/0", 1)}, labIDs))
		}, []string{"day2_web: scaled to 0 (pulumi up restores it)"}},
		{"a day2 task not running", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, []string{edge, strings.Replace(web, "3/3", "2/3", 1)}, labIDs))
		}, []string{"day2_web: 2 of 3 tasks running"}},
		{"a day2 service removed", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, []string{web, own}, "webid\n"))
		}, []string{"day2_edge: missing from the day2 stack (removed?): pulumi up deploys it again"}},
		{"the last pulumi up failed for the team", func(s *scriptedTeam) {
			s.team.LastRun = "FAILED: see the pulumi up log for team team1"
		}, []string{"last pulumi up: FAILED: see the pulumi up log for team team1"}},
		{"day 3: a kind node not Ready", func(s *scriptedTeam) { s.onDay3(kubeNodesSample) },
			[]string{"kind: team1-worker (worker) is not Ready"}},
		{"day 3: kind's host node does not answer", func(s *scriptedTeam) {
			s.onDay3(kubeNodesSample)
			s.unreachable("team1-m1")
		}, []string{
			"team1-m1: unreachable: ssh 127.0.0.1:2201: still failing after 4 attempts over 2s: connection refused",
			"swarm: no manager answers SSH, so the swarm and its services were not checked",
			"kind: cluster team1 not checked: its node team1-m1 does not answer",
		}},
		{"day 3: the cluster does not answer", func(s *scriptedTeam) {
			s.onDay3("")
			s.nodes["team1-m1"].Fail("kc=$(mktemp)", errors.New("node team1-m1: `kc=...`: exit code 1: The connection to the server 172.30.0.10:6443 was refused"))
		}, []string{"kind: cluster team1: node team1-m1: `kc=...`: exit code 1: The connection to the server 172.30.0.10:6443 was refused"}},
	} {
		s := newScriptedTeam(t)
		tc.setup(s)
		got := s.probe()
		if got.Ready || !reflect.DeepEqual(got.Problems, tc.want) {
			t.Errorf("%s: ready %v, problems\n  %q\nwant\n  %q", tc.name, got.Ready, got.Problems, tc.want)
		}
	}
}

// What is normal in class, or left by labfleet's own repairs, is not a problem.
func TestWhatIsStillReady(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*scriptedTeam)
	}{
		{"a drained worker", func(s *scriptedTeam) {
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, strings.Replace(w2Ready, "Active", "Drain", 1)}, []string{edge, web}, labIDs))
		}},
		{"a replaced node's old entry beside its new one", func(s *scriptedTeam) {
			old := strings.Replace(strings.Replace(w1Ready, "w1id", "oldid", 1), `"Ready"`, `"Down"`, 1)
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, old, w2Ready}, []string{edge, web}, labIDs))
		}},
		{"the day2 stack off, no stack", func(s *scriptedTeam) {
			s.team.Outputs.AppURLs = nil
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, nil, ""))
		}},
		{"ingress mode: no edge service is expected", func(s *scriptedTeam) {
			s.team.Outputs.RoutingMesh = "ingress"
			s.nodes["team1-m1"].On(managerQuery, managerAnswer([]string{m1Ready, w1Ready, w2Ready}, []string{web}, "webid\n"))
		}},
		{"day 3: every kind node Ready", func(s *scriptedTeam) {
			s.onDay3(strings.Replace(kubeNodesSample, `"Unknown"`, `"True"`, 1))
		}},
	} {
		s := newScriptedTeam(t)
		tc.setup(s)
		if got := s.probe(); !got.Ready {
			t.Errorf("%s: not ready: %q", tc.name, got.Problems)
		}
	}
}

// With two managers, the second answers for the swarm when the first cannot.
func TestAnotherManagerAnswers(t *testing.T) {
	s := newScriptedTeam(t)
	s.team.Outputs.Nodes[1].Role = "manager"
	s.nodes["team1-m1"].Fail(managerQuery, errors.New("node team1-m1: exit code 1: This node is not a swarm manager"))
	w1AsManager := strings.Replace(w1Ready, `"ManagerStatus":""`, `"ManagerStatus":"Reachable"`, 1)
	s.nodes["team1-w1"].On(managerQuery, managerAnswer([]string{m1Ready, w1AsManager, w2Ready}, []string{edge, web}, labIDs))
	got := s.probe()
	if !got.Ready || got.Nodes[1].ManagerStatus != "Reachable" {
		t.Errorf("ready %v %q, nodes %+v", got.Ready, got.Problems, got.Nodes)
	}
	s.nodes["team1-w1"].Fail(managerQuery, errors.New("node team1-w1: exit code 1: context deadline exceeded"))
	got = s.probe()
	want := "swarm: no manager could list the swarm: node team1-m1: exit code 1: This node is not a swarm manager; node team1-w1: exit code 1: context deadline exceeded"
	if got.Ready || len(got.Problems) != 1 || got.Problems[0] != want {
		t.Errorf("problems %q, want %q", got.Problems, want)
	}
}

func TestReadOutputs(t *testing.T) {
	// As the real CLI prints it without --show-secrets: every secret output is "[secret]".
	in := `{"joinTokens":"[secret]","kubeconfigs":"[secret]","studentKeys":"[secret]","teams":{
	  "team10":{"nodes":[{"name":"team10-m1","role":"manager","ssh":"127.0.0.1:2290"}],"status":"ready","appUrls":[]},
	  "team2":{"nodes":[{"name":"team2-m1","role":"manager","ssh":"127.0.0.1:2210"}],"status":"FAILED: see the pulumi up log for team team2","routingMesh":"host","appUrls":["http://172.30.1.10:8090/"],"kind":{"state":"running","cluster":"team2","hostNode":"team2-m1"}},
	  "team1":{"nodes":[{"name":"team1-m1","role":"manager","ssh":"127.0.0.1:2200"}],"status":"ready"}}}`
	teams, err := ReadOutputs(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tm := range teams {
		names = append(names, tm.Name)
	}
	// The cohort's order (by SSH port), not the alphabet's.
	if !reflect.DeepEqual(names, []string{"team1", "team2", "team10"}) {
		t.Errorf("order %v", names)
	}
	if t2 := teams[1]; t2.LastRun != "FAILED: see the pulumi up log for team team2" || t2.Outputs.RoutingMesh != "host" || t2.Outputs.Kind["hostNode"] != "team2-m1" {
		t.Errorf("team2: %+v", t2)
	}
	for in, want := range map[string]string{
		"":                  "cannot read the stack outputs",
		`{"teams":{}}`:      "the stack outputs have no teams",
		`{"teams":"oops"}`:  "cannot read the stack outputs",
		`Current stack is:`: "pipe `pulumi stack output --json` in",
	} {
		if _, err := ReadOutputs(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
