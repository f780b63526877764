// Package status checks a whole cohort at a glance, as the instructor needs it before class:
// every node reachable over SSH, every swarm member Ready with its planned role, the day2
// stack running all its replicas, the students' own services, and on day 3 the kind
// cluster's nodes Ready. Teams are checked concurrently, and one team's broken node never
// hides the others. It only reads: nothing on a node is changed.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Team is one team as the stack outputs describe it.
type Team struct {
	Name    string
	Outputs outputs.Team
	// LastRun is the team's `status` output: "ready", or why the last `pulumi up` failed
	// for it (its other outputs are then empty, so status cannot know what to expect).
	LastRun string
}

// ReadOutputs reads `pulumi stack output --json` (no secrets are needed) into the cohort's
// teams, in the cohort's order (outputs.Outputs.TeamNames).
func ReadOutputs(r io.Reader) ([]Team, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	// Only the teams: without --show-secrets (status needs no secret) the CLI prints every
	// secret output, studentKeys and kubeconfigs among them, as the string "[secret]".
	var o outputs.Outputs
	if err := json.Unmarshal(raw, &struct {
		Teams *map[string]outputs.Team `json:"teams"`
	}{&o.Teams}); err != nil {
		return nil, fmt.Errorf("cannot read the stack outputs: %w (pipe `pulumi stack output --json` in)", err)
	}
	if len(o.Teams) == 0 {
		return nil, fmt.Errorf("the stack outputs have no teams: has `pulumi up` run on this stack? (pipe `pulumi stack output --json` in)")
	}
	// A team's status output is none of a handout's business, so outputs.Team lacks it.
	var lastRuns struct {
		Teams map[string]struct {
			Status string `json:"status"`
		} `json:"teams"`
	}
	if err := json.Unmarshal(raw, &lastRuns); err != nil {
		return nil, err
	}
	var teams []Team
	for _, name := range o.TeamNames() {
		teams = append(teams, Team{Name: name, Outputs: o.Teams[name], LastRun: lastRuns.Teams[name].Status})
	}
	return teams, nil
}

// Report is the state of a cohort.
type Report struct {
	Cohort string       `json:"cohort"`
	Ready  bool         `json:"ready"`
	TookMS int64        `json:"tookMs"`
	Teams  []TeamStatus `json:"teams"`
}

// TeamStatus is one team's state. Problems name the node or service and say what is
// wrong; the team is ready when there are none.
type TeamStatus struct {
	Team     string       `json:"team"`
	Host     string       `json:"host"` // the Docker host its nodes run on
	Ready    bool         `json:"ready"`
	Problems []string     `json:"problems"`
	Nodes    []NodeStatus `json:"nodes"`
	// Day2 is the day2 stack's services; empty when it is off.
	Day2 []Service `json:"day2"`
	// Students are the services the students created: shown, never a problem, since
	// breaking and healing them is what the lab is about.
	Students []Service  `json:"studentServices"`
	Kind     *KindState `json:"kind,omitempty"` // day 3 only
	// Progress is how far the team has come through the Day-2 lab's phases 1 and 2.
	Progress Progress `json:"progress"`
	// Runs are the labprobe runs kept on the team's nodes, oldest first: Phase 3's record.
	// Never a problem: a team that has not measured yet is still ready.
	Runs []ProbeRun `json:"probeRuns"`
	// RunsUnread are the nodes that answered but whose kept runs could not be read.
	RunsUnread []string `json:"runsUnread,omitempty"`
}

// NodeStatus is one node: reachable over SSH, its dockerd's swarm state, and its entry in
// the swarm as a manager lists it.
type NodeStatus struct {
	Name       string `json:"name"`
	Role       string `json:"role"` // planned
	Reachable  bool   `json:"reachable"`
	LocalState string `json:"localState,omitempty"` // docker info: active, inactive, pending, locked, error
	Error      string `json:"error,omitempty"`
	// swarmID is the node's own swarm node ID, which finds its entry in the swarm's list
	// whatever its hostname (an existing machine keeps its own).
	swarmID string
	// Status, Availability and ManagerStatus are `docker node ls`'s columns; empty when
	// the swarm does not list the node (or no manager answered).
	Status        string `json:"status,omitempty"`
	Availability  string `json:"availability,omitempty"`
	ManagerStatus string `json:"managerStatus,omitempty"`
}

// Service is one swarm service and its tasks.
type Service struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	Mode    string `json:"mode"`
	Running int    `json:"running"`
	Desired int    `json:"desired"`
}

// KindState is a team's kind cluster on day 3.
type KindState struct {
	Cluster  string     `json:"cluster"`
	HostNode string     `json:"hostNode"`
	Nodes    []KindNode `json:"nodes"`
}

// KindNode is one Kubernetes node of the cluster.
type KindNode struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Ready bool   `json:"ready"`
}

// Options tune a check; the zero value suits a cohort on one host.
type Options struct {
	Parallel int           // teams checked at once (default 8)
	Timeout  time.Duration // for one team, dial included (default 20 s)
	SSH      sshexec.Options
}

// quickSSH gives up on a node within seconds: status reports a node that does not answer,
// it does not wait for one that is still booting the way the bootstrap must. A stopped node is
// refused at once (its SSH port is published by its host), so the attempt's timeout mostly
// bounds a node that accepted the connection and answers slowly: on a busy host (20 teams, 60 nodes on 2
// cores) a handshake took over 5 s, and a busy node is not a down one.
var quickSSH = sshexec.Options{
	AttemptTimeout:    10 * time.Second,
	RetryFor:          2 * time.Second,
	MaxBackoff:        time.Second,
	KeepaliveInterval: 10 * time.Second,
	KeepaliveMisses:   3,
}

// Check logs in to every node of every team as labfleet's admin user (pinned host keys)
// and reports each team's state. keys must be the cohort's (seed and stack name).
func Check(ctx context.Context, cohort string, teams []Team, keys *sshkeys.Keys, opts Options) Report {
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.SSH == (sshexec.Options{}) {
		opts.SSH = quickSSH
	}
	start := time.Now()
	limit := steps.NewLimit(opts.Parallel)
	r := Report{Cohort: cohort, Teams: make([]TeamStatus, len(teams))}
	_ = steps.Each(indexes(teams), func(i int) error {
		if err := limit.Do(ctx, func() error { r.Teams[i] = checkTeam(ctx, teams[i], keys, opts); return nil }); err != nil {
			r.Teams[i] = TeamStatus{Team: teams[i].Name, Problems: []string{"not checked: " + err.Error()}}
		}
		return nil
	})
	r.Ready = r.NotReady() == nil
	r.TookMS = time.Since(start).Milliseconds()
	return r
}

// checkTeam opens an SSH connection to every node of the team and probes it.
func checkTeam(ctx context.Context, t Team, keys *sshkeys.Keys, opts Options) TeamStatus {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	admin := keys.Admin().Signer()
	clients := map[string]*sshexec.Client{}
	dialErrs := map[string]error{}
	var mu sync.Mutex
	_ = steps.Each(t.Outputs.Nodes, func(n outputs.Node) error {
		hostKey := keys.Host(n.Name).PublicKey()
		if t.Outputs.Host == outputs.MachinesHost {
			// An existing machine's own key, as its known_hosts line records it; nil (trust
			// what it presents) when the instructor did not pin it.
			hostKey = nil
			if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(n.KnownHost)); err == nil {
				hostKey = k
			}
		}
		c, err := sshexec.Dial(ctx, sshexec.Target{
			Node: n.Name, Addr: n.SSH, User: plan.AdminUser, Signer: admin, HostKey: hostKey,
		}, opts.SSH)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			dialErrs[n.Name] = err
		} else {
			clients[n.Name] = c
		}
		return nil
	})
	defer bootstrap.CloseAll(clients)
	conns := map[string]steps.Runner{}
	for name, c := range clients {
		conns[name] = c
	}
	return probe(ctx, t, conns, dialErrs)
}

// probe reads the team's state through the nodes that answered (conns); dialErrs says why
// the others did not.
func probe(ctx context.Context, t Team, conns map[string]steps.Runner, dialErrs map[string]error) TeamStatus {
	s := TeamStatus{Team: t.Name, Host: t.Outputs.Host, Nodes: make([]NodeStatus, len(t.Outputs.Nodes)), Day2: []Service{}, Students: []Service{}}
	var swarmErr error
	var kindProblems []string
	var list []swarmEntry
	var services []serviceEntry
	var day2IDs []string
	var manager steps.Runner
	probes := []func(){
		func() {
			_ = steps.Each(indexes(t.Outputs.Nodes), func(i int) error {
				s.Nodes[i] = probeNode(ctx, t.Outputs.Nodes[i], conns, dialErrs)
				return nil
			})
		},
		func() { list, services, day2IDs, manager, swarmErr = askManager(ctx, t, conns) },
		func() { s.Kind, kindProblems = probeKind(ctx, t, conns) },
		func() { s.Runs, s.RunsUnread = readRuns(ctx, t, conns) },
		func() { s.Progress.Phase1 = phase1(ctx, t, conns) },
	}
	_ = steps.Each(probes, func(p func()) error { p(); return nil })

	problems := []string{}
	for _, n := range s.Nodes {
		if n.Error != "" {
			problems = append(problems, n.Name+": "+n.Error)
		}
	}
	if swarmErr != nil {
		problems = append(problems, swarmErr.Error())
	} else {
		problems = append(problems, matchMembers(s.Nodes, list)...)
		var p []string
		s.Day2, s.Students, p = splitServices(t, services, day2IDs)
		problems = append(problems, p...)
		// The lab's evidence is not the team's health: what cannot be read is just not seen.
		if p2, err := phase2(ctx, manager, s.Students); err == nil {
			p2.Phase1 = s.Progress.Phase1
			s.Progress = p2
		}
	}
	problems = append(problems, kindProblems...)
	if t.LastRun != "" && t.LastRun != "ready" {
		problems = append(problems, "last pulumi up: "+t.LastRun)
	}
	s.Problems = problems
	s.Ready = len(problems) == 0
	return s
}

func indexes[T any](items []T) []int {
	out := make([]int, len(items))
	for i := range out {
		out[i] = i
	}
	return out
}

// probeNode checks that the node answers SSH and its dockerd answers.
func probeNode(ctx context.Context, n outputs.Node, conns map[string]steps.Runner, dialErrs map[string]error) NodeStatus {
	ns := NodeStatus{Name: n.Name, Role: n.Role}
	c, ok := conns[n.Name]
	if !ok {
		ns.Error = "unreachable: " + strings.TrimPrefix(fmt.Sprint(dialErrs[n.Name]), "node "+n.Name+": ")
		return ns
	}
	ns.Reachable = true
	out, err := c.Run(ctx, localQuery)
	if err != nil {
		ns.Error = "dockerd does not answer: " + strings.TrimPrefix(err.Error(), "node "+n.Name+": ")
		return ns
	}
	f := strings.Fields(out)
	if len(f) > 0 {
		ns.LocalState = f[0]
	}
	if len(f) > 1 {
		ns.swarmID = f[1]
	}
	return ns
}

// localQuery asks a node's dockerd for its swarm state and its own node ID.
const localQuery = "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}'"

// managerQuery lists the swarm's nodes, its services, and which services are the day2
// stack's, in one round trip.
var managerQuery = fmt.Sprintf("echo '%snodes' && docker node ls --format '{{json .}}' && echo '%sservices' && docker service ls --format '{{json .}}' && "+
	"echo '%sday2' && docker service ls -q --filter label=com.docker.stack.namespace=%s",
	sectionPrefix, sectionPrefix, sectionPrefix, day2.StackName)

// askManager asks the first planned manager that answers for the swarm's nodes and
// services, and returns that manager too.
func askManager(ctx context.Context, t Team, conns map[string]steps.Runner) ([]swarmEntry, []serviceEntry, []string, steps.Runner, error) {
	var tried []string
	for _, n := range t.Outputs.Nodes {
		c, ok := conns[n.Name]
		if n.Role != string(plan.Manager) || !ok {
			continue
		}
		out, err := c.Run(ctx, managerQuery)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		parts, err := sections(out, "nodes", "services", "day2")
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		list, err := parseLines[swarmEntry]("docker node ls", parts["nodes"])
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		services, err := parseLines[serviceEntry]("docker service ls", parts["services"])
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		return list, services, strings.Fields(parts["day2"]), c, nil
	}
	if len(tried) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("swarm: no manager answers SSH, so the swarm and its services were not checked")
	}
	return nil, nil, nil, nil, fmt.Errorf("swarm: no manager could list the swarm: %s", strings.Join(tried, "; "))
}

// matchMembers fills in each node's swarm entry and returns what is wrong with them: not
// in the swarm, not Ready, another role than planned, a manager the others cannot reach.
func matchMembers(nodes []NodeStatus, list []swarmEntry) []string {
	var problems []string
	for i := range nodes {
		n := &nodes[i]
		// By the node's own ID; without it (the node does not answer), by hostname, where a
		// replaced node leaves a Down entry: the Ready one is it.
		var e *swarmEntry
		for j := range list {
			switch {
			case n.swarmID != "":
				if list[j].ID == n.swarmID {
					e = &list[j]
				}
			case list[j].Hostname == n.Name && (e == nil || list[j].Status == "Ready"):
				e = &list[j]
			}
		}
		if e == nil {
			if n.Reachable {
				problems = append(problems, fmt.Sprintf("%s: not in the swarm (its dockerd says %s)", n.Name, orUnknown(n.LocalState)))
			}
			continue
		}
		n.Status, n.Availability, n.ManagerStatus = e.Status, e.Availability, e.ManagerStatus
		role := string(plan.Worker)
		if e.ManagerStatus != "" {
			role = string(plan.Manager)
		}
		switch {
		case e.Status != "Ready":
			if n.Reachable { // an unreachable node is reported once, as unreachable
				problems = append(problems, fmt.Sprintf("%s: %s in the swarm", n.Name, e.Status))
			}
		case role != n.Role:
			problems = append(problems, fmt.Sprintf("%s: a %s in the swarm, planned as %s (pulumi up puts it back)", n.Name, role, n.Role))
		case e.ManagerStatus == "Unreachable":
			problems = append(problems, fmt.Sprintf("%s: manager unreachable by the other managers", n.Name))
		}
	}
	return problems
}

func orUnknown(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// splitServices separates the day2 stack's services from the students' and returns what
// is wrong with the day2 stack: a planned service missing, or not running every task.
func splitServices(t Team, services []serviceEntry, day2IDs []string) (day2Services, students []Service, problems []string) {
	day2Services, students = []Service{}, []Service{}
	for _, e := range services {
		svc := Service{Name: e.Name, Image: e.Image, Mode: e.Mode}
		var err error
		if svc.Running, svc.Desired, err = lab.ParseReplicas(e.Replicas); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.Name, err))
		}
		if !slices.Contains(day2IDs, e.ID) {
			students = append(students, svc)
			continue
		}
		day2Services = append(day2Services, svc)
		if p := replicaProblem(svc); p != "" {
			problems = append(problems, svc.Name+": "+p)
		}
	}
	for _, want := range expectedDay2(t) {
		if !slices.ContainsFunc(day2Services, func(s Service) bool { return s.Name == want }) {
			problems = append(problems, fmt.Sprintf("%s: missing from the %s stack (removed?): pulumi up deploys it again", want, day2.StackName))
		}
	}
	return day2Services, students, problems
}

// replicaProblem says what is wrong with a lab service's tasks, or "".
func replicaProblem(s Service) string {
	switch {
	case s.Desired == 0 && s.Mode == "replicated":
		return "scaled to 0 (pulumi up restores it)"
	case s.Desired == 0:
		return "no task scheduled on any node"
	case s.Running < s.Desired:
		return fmt.Sprintf("%d of %d tasks running", s.Running, s.Desired)
	}
	return ""
}

// expectedDay2 is the services of the day2 stack as labfleet deploys it for the team's
// routing mode, or none when the team has no day2 stack (its app URLs say so).
func expectedDay2(t Team) []string {
	if len(t.Outputs.AppURLs) == 0 {
		return nil
	}
	// The service names depend only on the routing mode, not on the port or images.
	stack, _ := day2.Render(0, t.Outputs.RoutingMesh == string(plan.MeshHost), nil)
	var names []string
	for _, svc := range stack.Services {
		names = append(names, svc.Name)
	}
	return names
}

// plainName is what a kind cluster name must look like before it goes into a command.
var plainName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// probeKind lists the kind cluster's nodes on the node that hosts it, on day 3 (the team's
// kind output says "running"). It reads kind's own kubeconfig into a temporary file, so
// neither labfleet's nor the students' copy is touched.
func probeKind(ctx context.Context, t Team, conns map[string]steps.Runner) (*KindState, []string) {
	k := t.Outputs.Kind
	if k["state"] != "running" {
		return nil, nil
	}
	state := &KindState{Cluster: k["cluster"], HostNode: k["hostNode"], Nodes: []KindNode{}}
	if !plainName.MatchString(state.Cluster) {
		return state, []string{fmt.Sprintf("kind: cluster name %q in the stack outputs is not a plain name", state.Cluster)}
	}
	c, ok := conns[state.HostNode]
	if !ok {
		return state, []string{fmt.Sprintf("kind: cluster %s not checked: its node %s does not answer", state.Cluster, state.HostNode)}
	}
	out, err := c.Run(ctx, fmt.Sprintf(`kc=$(mktemp) && kind get kubeconfig --name %s > "$kc" && kubectl --kubeconfig "$kc" --request-timeout 10s get nodes -o json; rc=$?; rm -f "$kc"; exit $rc`, state.Cluster))
	if err != nil {
		return state, []string{fmt.Sprintf("kind: cluster %s: %v", state.Cluster, err)}
	}
	if state.Nodes, err = parseKubeNodes(out); err != nil {
		return state, []string{fmt.Sprintf("kind: cluster %s on %s: %v", state.Cluster, state.HostNode, err)}
	}
	var problems []string
	if len(state.Nodes) == 0 {
		problems = append(problems, fmt.Sprintf("kind: cluster %s has no nodes", state.Cluster))
	}
	for _, n := range state.Nodes {
		if !n.Ready {
			problems = append(problems, fmt.Sprintf("kind: %s (%s) is not Ready", n.Name, n.Role))
		}
	}
	return state, problems
}
