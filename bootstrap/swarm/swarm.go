// Package swarm converges one team's nodes into a Docker Swarm with the planned roles.
// It reads every node's actual state and acts only on differences, so running it again
// changes nothing, a replaced node rejoins and its stale entry is removed, and a node that
// belongs to another swarm leaves it first.
package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

// Member is one planned node of the team; the swarm advertises its IP.
type Member = steps.Node

// Result is the converged swarm.
type Result struct {
	ClusterID    string
	ManagerAddr  string // ip:2377 of the manager the others joined
	WorkerToken  string
	ManagerToken string
	NodeIDs      map[string]string // node name -> swarm node ID
	Actions      []string          // what this run changed; empty when nothing needed doing
}

// Timing bounds the waits; the zero value gets DefaultTiming.
type Timing struct {
	DockerReady time.Duration // for dockerd in a new node to answer
	NodesReady  time.Duration // for joined nodes to report Ready, and role changes to apply
	// Settle is how long managers that hold swarm data, but of which none controls the
	// swarm yet (pending after a restart, a Raft election), get before the team fails.
	Settle time.Duration
	Poll   time.Duration
}

// DefaultTiming leaves room for a leader election (dockerd on the surviving managers does
// not answer until one is done) and for a whole cohort restarted at once.
var DefaultTiming = Timing{DockerReady: 90 * time.Second, NodesReady: 60 * time.Second, Settle: 90 * time.Second, Poll: time.Second}

const swarmPort = "2377"

// ClusterIDPath is where labfleet records, on every manager, the ID of the swarm it
// converged, so a deliberate reset can name a swarm whose managers cannot say (locked).
const ClusterIDPath = "/etc/labfleet/swarm-cluster-id"

// localState is `docker info`'s .Swarm, the part we use, and the cluster ID labfleet
// recorded on the node.
type localState struct {
	NodeID           string
	NodeAddr         string
	LocalNodeState   string // inactive, pending, active, error, locked
	ControlAvailable bool
	Error            string
	Cluster          *struct{ ID string }

	recorded string // ClusterIDPath
}

// holdsSwarm is true when the node has swarm data of any kind, usable or not.
func (s localState) holdsSwarm() bool { return s.LocalNodeState != "inactive" }

// clusterID is the swarm the node belongs to, as far as it can tell.
func (s localState) clusterID() string {
	if s.Cluster != nil && s.Cluster.ID != "" {
		return s.Cluster.ID
	}
	return s.recorded
}

func (s localState) describe() string {
	d := s.LocalNodeState
	if s.LocalNodeState == "active" && !s.ControlAvailable {
		d = "active without control"
	}
	if s.Error != "" {
		d += " (" + s.Error + ")"
	}
	return d
}

// clusterNode is one entry of `docker node inspect`.
type clusterNode struct {
	ID          string
	Spec        struct{ Role string }
	Description struct{ Hostname string }
	Status      struct{ State, Addr string }
	// ManagerStatus is present while the node is in the Raft membership: after a demotion
	// Spec.Role says worker at once, but the node leaves Raft only later.
	ManagerStatus *struct{ Reachability string }
}

type converger struct {
	team    string
	members []Member
	timing  Timing
	// reset is the cluster ID of a swarm the instructor asked to start over
	// (labfleet:resetSwarms); "" for none.
	reset  string
	mu     sync.Mutex // guards state
	state  map[string]localState
	result Result
	steps.Changes
}

// Converge brings the team's swarm to the planned shape. Errors name the team, the node
// and the step. reset, when not empty, is the cluster ID of a swarm to discard and start
// again empty (the instructor's explicit choice); a swarm with any other ID is kept.
func Converge(ctx context.Context, team string, members []Member, reset string, timing Timing) (Result, error) {
	if timing == (Timing{}) {
		timing = DefaultTiming
	}
	c := &converger{team: team, members: members, timing: timing, reset: reset, state: map[string]localState{}}
	c.result.NodeIDs = map[string]string{}
	err := steps.Run(ctx, team, []steps.Step{
		{Name: "wait for dockerd", Run: c.waitForDocker, Timeout: timing.DockerReady + time.Minute},
		{Name: "choose or init the manager", Run: c.ensureLeader, Timeout: timing.Settle + 2*time.Minute},
		{Name: "read cluster ID and join tokens", Run: c.readTokens, Timeout: timing.NodesReady + time.Minute},
		{Name: "join nodes", Run: c.joinMembers, Timeout: 5 * time.Minute},
		{Name: "wait for nodes to be ready", Run: c.waitReady, Timeout: timing.NodesReady + time.Minute},
		{Name: "remove stale node entries", Run: c.removeStale, Timeout: 3 * time.Minute},
		{Name: "record the cluster ID", Run: c.recordClusterID, Timeout: time.Minute},
	})
	c.result.Actions = c.List()
	return c.result, err
}

func (c *converger) leader() Member {
	for _, m := range c.members {
		if m.IP+":"+swarmPort == c.result.ManagerAddr {
			return m
		}
	}
	panic("no leader chosen") // ensureLeader runs before every caller
}

func (c *converger) managers() []Member {
	var out []Member
	for _, m := range c.members {
		if m.Role == plan.Manager {
			out = append(out, m)
		}
	}
	return out
}

func inspectLocal(ctx context.Context, m Member) (localState, error) {
	out, err := m.Run.Run(ctx, "docker info --format '{{json .Swarm}}' && { cat "+ClusterIDPath+" 2>/dev/null || true; }")
	if err != nil {
		return localState{}, err
	}
	info, recorded, _ := strings.Cut(strings.TrimSpace(out), "\n")
	var s localState
	if err := json.Unmarshal([]byte(info), &s); err != nil {
		return localState{}, fmt.Errorf("node %s: cannot read docker info %q: %w", m.Name, info, err)
	}
	s.recorded = strings.TrimSpace(recorded)
	return s, nil
}

func (c *converger) setState(m Member, s localState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state[m.Name] = s
}

func (c *converger) stateOf(m Member) localState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state[m.Name]
}

// waitForDocker polls every node concurrently until its dockerd answers.
func (c *converger) waitForDocker(ctx context.Context) error {
	return steps.Each(c.members, func(m Member) error {
		return steps.Poll(ctx, "node "+m.Name+": dockerd did not answer", c.timing.DockerReady, c.timing.Poll, func(ctx context.Context) (bool, error) {
			s, err := inspectLocal(ctx, m)
			// A dockerd that has just started answers before its swarm component is up, and
			// reports an empty swarm state: that is not an answer yet.
			if err == nil && s.LocalNodeState == "" {
				err = fmt.Errorf("node %s: dockerd is up but its swarm state is not known yet", m.Name)
			}
			if err != nil {
				return false, err
			}
			c.setState(m, s)
			return true, nil
		})
	})
}

// ensureLeader picks the first planned manager that controls a swarm. A new swarm is
// initialised only when no manager holds swarm data at all (a new team, or every manager
// replaced), or when the instructor asked for this team's swarm to be reset. Managers that
// hold a swarm but cannot lead it yet (pending after a restart, an election, locked by
// autolock, in error) are waited for, then reported: their swarm is never wiped by a rerun.
func (c *converger) ensureLeader(ctx context.Context) error {
	if c.reset != "" && c.holdsResetSwarm() {
		return c.resetSwarm(ctx)
	}
	if c.pickLeader() {
		return nil
	}
	if !slices.ContainsFunc(c.managers(), func(m Member) bool { return c.stateOf(m).holdsSwarm() }) {
		return c.initSwarm(ctx)
	}
	// Some manager holds swarm data but none leads: wait for them to settle. A swarm whose
	// managers are all locked will not unlock itself, so that is reported at once.
	err := steps.Poll(ctx, "wait for a manager to lead the swarm", c.timing.Settle, c.timing.Poll, func(ctx context.Context) (bool, error) {
		for _, m := range c.managers() {
			s, err := inspectLocal(ctx, m)
			if err != nil {
				return false, err
			}
			c.setState(m, s)
		}
		if c.pickLeader() {
			return true, nil
		}
		if c.allLocked() {
			return true, errors.New("every manager holding the swarm is locked")
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	return c.noLeaderError(err)
}

func (c *converger) allLocked() bool {
	for _, m := range c.managers() {
		if s := c.stateOf(m); s.holdsSwarm() && s.LocalNodeState != "locked" {
			return false
		}
	}
	return true
}

// pickLeader chooses the node that converges the swarm: the first planned manager that
// controls it, else any member that does. A student may have promoted a worker and demoted
// every planned manager; the swarm is healthy all the same, and joinMembers puts the roles
// back through that node.
func (c *converger) pickLeader() bool {
	for _, m := range slices.Concat(c.managers(), c.members) {
		if s := c.stateOf(m); s.LocalNodeState == "active" && s.ControlAvailable {
			c.result.ManagerAddr = m.IP + ":" + swarmPort
			return true
		}
	}
	return false
}

// noLeaderError says what the managers reported, that nothing was changed, and the fix.
func (c *converger) noLeaderError(waited error) error {
	var seen []string
	locked, id := "", ""
	for _, m := range c.managers() {
		s := c.stateOf(m)
		seen = append(seen, m.Name+" "+s.describe())
		if s.LocalNodeState == "locked" && locked == "" {
			locked = m.Name
		}
		if id == "" {
			id = s.clusterID()
		}
	}
	if id == "" {
		id = "<clusterId from pulumi stack output teams>"
	}
	reset := fmt.Sprintf("or, to discard this team's swarm and every service in it, pulumi config set --path 'labfleet:resetSwarms.%s' %s and run pulumi up", c.team, id)
	fix := "if the nodes are still starting, run pulumi up again in a minute; if the managers lost quorum for good, run `docker swarm init --force-new-cluster` on one of them (the swarm keeps its services); " + reset
	if locked != "" {
		fix = fmt.Sprintf("autolock is on and the swarm is locked since the node restarted: on %s run `docker swarm unlock` with the unlock key (the students have it; `docker swarm unlock-key` on an unlocked manager shows it), then run pulumi up again; %s", locked, reset)
	}
	return fmt.Errorf("no manager leads the team's swarm (%s), so nothing was changed: %s (%v)", strings.Join(seen, ", "), fix, waited)
}

// holdsResetSwarm reports whether a manager belongs to the swarm the instructor asked to reset.
func (c *converger) holdsResetSwarm() bool {
	return slices.ContainsFunc(c.managers(), func(m Member) bool { return c.stateOf(m).clusterID() == c.reset })
}

// resetSwarm makes every node leave whatever swarm it is in and starts a new, empty one:
// only ever on the instructor's request for this very cluster ID, so it happens once.
func (c *converger) resetSwarm(ctx context.Context) error {
	err := steps.Each(c.members, func(m Member) error { return c.leaveIfInSwarm(ctx, m) })
	if err != nil {
		return err
	}
	c.Did("reset the swarm %s (labfleet:resetSwarms)", c.reset)
	return c.initSwarm(ctx)
}

func (c *converger) initSwarm(ctx context.Context) error {
	first, _ := steps.FirstManager(c.members)
	if _, err := first.Run.Run(ctx, fmt.Sprintf("docker swarm init --advertise-addr %s --listen-addr %s:%s", first.IP, first.IP, swarmPort)); err != nil {
		return err
	}
	c.Did("init swarm on %s", first.Name)
	c.result.ManagerAddr = first.IP + ":" + swarmPort
	return nil
}

func (c *converger) leaveIfInSwarm(ctx context.Context, m Member) error {
	s := c.stateOf(m)
	if !s.holdsSwarm() {
		return nil
	}
	_, err := m.Run.Run(ctx, "docker swarm leave --force")
	switch {
	case err != nil && strings.Contains(err.Error(), "not part of a swarm"):
		// Its state was read while dockerd was still settling; there is nothing to leave.
	case err != nil:
		return err
	default:
		c.Did("%s left a swarm it should not be in (state %s)", m.Name, s.LocalNodeState)
	}
	c.setState(m, localState{LocalNodeState: "inactive"})
	return nil
}

// readTokens reads the cluster ID and join tokens from the leader. Right after a leader
// election a manager may already report control but not yet the cluster, so poll. A leader
// that loses control meanwhile (a demotion a student made, still going through when it was
// chosen: tens of seconds on a busy host) hands the run to whichever member controls now.
func (c *converger) readTokens(ctx context.Context) error {
	err := steps.Poll(ctx, "docker info shows no swarm cluster", c.timing.NodesReady, c.timing.Poll, func(ctx context.Context) (bool, error) {
		l := c.leader()
		s, err := inspectLocal(ctx, l)
		if err != nil {
			return false, err
		}
		if s.LocalNodeState == "active" && !s.ControlAvailable {
			c.setState(l, s)
			for _, m := range c.members {
				if m.Name != l.Name {
					if s, err := inspectLocal(ctx, m); err == nil {
						c.setState(m, s)
					}
				}
			}
			if !c.pickLeader() {
				return false, fmt.Errorf("node %s: lost control of the swarm, and no other member has it yet", l.Name)
			}
			return false, fmt.Errorf("node %s: lost control of the swarm, %s leads now", l.Name, c.leader().Name)
		}
		if s.Cluster == nil || s.Cluster.ID == "" {
			return false, fmt.Errorf("node %s: state %s", l.Name, s.describe())
		}
		c.result.ClusterID = s.Cluster.ID
		return true, nil
	})
	if err != nil {
		return err
	}
	l := c.leader()
	w, err := l.Run.Run(ctx, "docker swarm join-token -q worker")
	if err != nil {
		return err
	}
	m, err := l.Run.Run(ctx, "docker swarm join-token -q manager")
	if err != nil {
		return err
	}
	c.result.WorkerToken, c.result.ManagerToken = strings.TrimSpace(w), strings.TrimSpace(m)
	return nil
}

func (c *converger) listNodes(ctx context.Context) ([]clusterNode, error) {
	out, err := c.leader().Run.Run(ctx, "docker node ls -q | xargs docker node inspect")
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		return nil, fmt.Errorf("node %s: cannot read docker node inspect: %w", c.leader().Name, err)
	}
	return nodes, nil
}

// joinMembers joins every node that is not in this swarm, and fixes roles of those that are.
// Managers join one at a time, as Raft membership changes should.
func (c *converger) joinMembers(ctx context.Context) error {
	nodes, err := c.listNodes(ctx)
	if err != nil {
		return err
	}
	byID := map[string]clusterNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	leader := c.leader()
	for _, m := range c.members {
		if m.Name == leader.Name {
			continue
		}
		s := c.stateOf(m)
		if n, ok := byID[s.NodeID]; ok && s.NodeID != "" && s.LocalNodeState != "error" {
			if n.Spec.Role != string(m.Role) {
				verb := map[plan.Role]string{plan.Manager: "promote", plan.Worker: "demote"}[m.Role]
				if err := c.onLeader(ctx, fmt.Sprintf("docker node %s %s", verb, s.NodeID)); err != nil {
					return err
				}
				c.Did("%s %s", verb, m.Name)
			}
			continue
		}
		if err := c.leaveIfInSwarm(ctx, m); err != nil {
			return err
		}
		token := c.result.WorkerToken
		if m.Role == plan.Manager {
			token = c.result.ManagerToken
		}
		if err := join(ctx, m, token, c.result.ManagerAddr); err != nil {
			// A slow join reports a timeout but goes on in the background (moby #25034);
			// waitReady decides whether it worked.
			if !strings.Contains(err.Error(), "will continue in the background") {
				return err
			}
		}
		c.Did("join %s as %s", m.Name, m.Role)
	}
	return c.handOverLead(ctx)
}

// handOverLead demotes the node that led the convergence when the plan makes it a worker (a
// student promoted it): a planned manager, promoted by now, leads from here on.
func (c *converger) handOverLead(ctx context.Context) error {
	old := c.leader()
	if old.Role == plan.Manager {
		return nil
	}
	next, ok := steps.FirstManager(c.members)
	if !ok {
		return fmt.Errorf("no planned manager to hand the swarm over to from %s", old.Name)
	}
	// Only once the new manager takes part in Raft: demoting the leader before that left
	// every node "unknown" for over a minute (seen here), the agents knowing no manager.
	// Its ID is read afresh: it may have joined in this run.
	err := steps.Poll(ctx, "node "+next.Name+": not a reachable manager yet", c.timing.NodesReady, c.timing.Poll, func(ctx context.Context) (bool, error) {
		s, err := inspectLocal(ctx, next)
		if err == nil && s.NodeID == "" {
			err = fmt.Errorf("its local state is %s", s.describe())
		}
		if err != nil {
			return false, err
		}
		c.setState(next, s)
		out, err := old.Run.Run(ctx, "docker node inspect --format '{{.ManagerStatus.Reachability}}' "+s.NodeID)
		return strings.TrimSpace(out) == "reachable", err
	})
	if err != nil {
		return err
	}
	// It demotes itself: it is a manager for sure, where the one just promoted may not
	// answer for the swarm yet.
	if err := c.onLeader(ctx, "docker node demote "+c.stateOf(old).NodeID); err != nil {
		return err
	}
	c.result.ManagerAddr = next.IP + ":" + swarmPort
	c.Did("demote %s", old.Name)
	// A leader's demotion goes through only once it has handed Raft over: seconds, or over
	// half a minute on a busy host (seen in CI). Until then it still leads; wait for that
	// here, with the room of a leader election, rather than in waitReady's shorter limit.
	return steps.Poll(ctx, "node "+old.Name+": demoted, still leaving the managers", c.timing.Settle, c.timing.Poll, func(ctx context.Context) (bool, error) {
		s, err := inspectLocal(ctx, old)
		return err == nil && !s.ControlAvailable, err
	})
}

// joinRequest is the Engine API's SwarmJoinRequest.
type joinRequest struct {
	ListenAddr    string
	AdvertiseAddr string
	RemoteAddrs   []string
	JoinToken     string
}

// join asks the node's dockerd to join through the Engine API, with the request on stdin:
// `docker swarm join --token ...` would put the token on a command line, where `ps` on the
// node (and on the Docker host, for container nodes) shows it to everyone.
func join(ctx context.Context, m Member, token, managerAddr string) error {
	req, err := json.Marshal(joinRequest{
		ListenAddr:    m.IP + ":" + swarmPort,
		AdvertiseAddr: m.IP,
		RemoteAddrs:   []string{managerAddr},
		JoinToken:     token,
	})
	if err != nil {
		return err
	}
	out, err := m.Run.RunWithInput(ctx, engineAPI("POST", "/swarm/join"), bytes.NewReader(req))
	if err != nil {
		return err
	}
	return apiError(m, "swarm join", out)
}

// engineAPI is a shell command that sends stdin to the node's Engine API and prints the
// response body, then the HTTP status on a line of its own.
func engineAPI(method, path string) string {
	return "curl -sS --unix-socket /var/run/docker.sock -X " + method +
		" -H 'Content-Type: application/json' --data-binary @- -w '\\n%{http_code}' http://localhost" + path
}

// apiError reads engineAPI's output: nil for a 2xx status, else the engine's message.
func apiError(m Member, what, out string) error {
	out = strings.TrimSpace(out)
	body, code := "", out
	if i := strings.LastIndex(out, "\n"); i >= 0 {
		body, code = out[:i], out[i+1:]
	}
	if strings.HasPrefix(code, "2") {
		return nil
	}
	var msg struct{ Message string }
	if json.Unmarshal([]byte(body), &msg) == nil && msg.Message != "" {
		body = msg.Message
	}
	return fmt.Errorf("node %s: %s: HTTP %s: %s", m.Name, what, code, body)
}

// waitReady waits until every member has a node ID that the leader lists as ready with
// the planned role.
func (c *converger) waitReady(ctx context.Context) error {
	var pending []string
	return steps.Poll(ctx, "nodes not ready", c.timing.NodesReady, c.timing.Poll, func(ctx context.Context) (bool, error) {
		var err error
		if pending, err = c.notReady(ctx); err != nil {
			return false, err
		}
		if len(pending) > 0 {
			return false, errors.New(strings.Join(pending, "; "))
		}
		return true, nil
	})
}

func (c *converger) notReady(ctx context.Context) ([]string, error) {
	nodes, err := c.listNodes(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]clusterNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	var pending []string
	for _, m := range c.members {
		s, err := inspectLocal(ctx, m)
		if err != nil {
			return nil, err
		}
		c.result.NodeIDs[m.Name] = s.NodeID
		n, ok := byID[s.NodeID]
		switch {
		case s.NodeID == "" || !ok:
			pending = append(pending, fmt.Sprintf("node %s: not in the swarm (local state %s)", m.Name, s.describe()))
		case n.Status.State != "ready":
			pending = append(pending, fmt.Sprintf("node %s: %s", m.Name, n.Status.State))
		case n.Spec.Role != string(m.Role):
			pending = append(pending, fmt.Sprintf("node %s: role %s, want %s", m.Name, n.Spec.Role, m.Role))
		case m.Role == plan.Worker && (n.ManagerStatus != nil || s.ControlAvailable):
			// A demoted leader keeps leading until its removal from Raft goes through; a
			// run that ended here left it the swarm's only real manager (seen here).
			pending = append(pending, fmt.Sprintf("node %s: demoted, still leaving the managers", m.Name))
		case m.Role == plan.Manager && (n.ManagerStatus == nil || n.ManagerStatus.Reachability != "reachable"):
			pending = append(pending, fmt.Sprintf("node %s: promoted, not a reachable manager yet", m.Name))
		}
	}
	return pending, nil
}

// removeStale deletes entries of nodes that are no longer members: the old identity of a
// replaced node container, or a node removed from the plan. Every member's current ID is
// known at this point, so an entry with another ID can never come back; it is removed with
// --force instead of waiting the 15-30 s swarm takes to mark it down (longer after a leader
// change). A manager entry is demoted first so the Raft membership shrinks with it.
func (c *converger) removeStale(ctx context.Context) error {
	current := map[string]bool{}
	for _, id := range c.result.NodeIDs {
		current[id] = true
	}
	nodes, err := c.listNodes(ctx)
	if err != nil {
		return err
	}
	leader := c.leader()
	for _, n := range nodes {
		if current[n.ID] {
			continue
		}
		if n.Spec.Role == "manager" {
			if err := c.onLeader(ctx, "docker node demote "+n.ID); err != nil {
				return err
			}
		}
		if _, err := leader.Run.Run(ctx, "docker node rm --force "+n.ID); err != nil {
			return err
		}
		c.Did("remove stale entry %s of %s (was %s)", n.ID, n.Description.Hostname, n.Status.State)
	}
	return nil
}

// recordClusterID writes the swarm's ID on every manager that has another one recorded
// (see ClusterIDPath). It is bookkeeping, not a change to the team.
func (c *converger) recordClusterID(ctx context.Context) error {
	return steps.Each(c.managers(), func(m Member) error {
		if c.stateOf(m).recorded == c.result.ClusterID {
			return nil
		}
		_, err := remote.WriteFile(ctx, m.Run, remote.File{Path: ClusterIDPath, Content: strings.NewReader(c.result.ClusterID + "\n"), Mode: "0644", Owner: remote.AsRoot})
		return err
	})
}

// onLeader runs a role change on the leader, retrying while Raft is still applying an
// earlier membership change ("can't find manager in raft memberlist").
func (c *converger) onLeader(ctx context.Context, cmd string) error {
	return steps.Poll(ctx, cmd, c.timing.NodesReady, c.timing.Poll, func(ctx context.Context) (bool, error) {
		_, err := c.leader().Run.Run(ctx, cmd)
		return err == nil || !strings.Contains(err.Error(), "raft"), err
	})
}
