// Package swarm converges one team's nodes into a Docker Swarm with the planned roles.
// It reads every node's actual state and acts only on differences, so running it again
// changes nothing, a replaced node rejoins and its stale entry is removed, and a node that
// belongs to another swarm leaves it first.
package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra/plan"
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
	Poll        time.Duration
}

// DefaultTiming leaves room for a leader election (dockerd on the surviving managers does
// not answer until one is done).
var DefaultTiming = Timing{DockerReady: 90 * time.Second, NodesReady: 60 * time.Second, Poll: time.Second}

const swarmPort = "2377"

// localState is `docker info`'s .Swarm, the part we use.
type localState struct {
	NodeID           string
	NodeAddr         string
	LocalNodeState   string // inactive, pending, active, error, locked
	ControlAvailable bool
	Error            string
	Cluster          *struct{ ID string }
}

// clusterNode is one entry of `docker node inspect`.
type clusterNode struct {
	ID          string
	Spec        struct{ Role string }
	Description struct{ Hostname string }
	Status      struct{ State, Addr string }
}

type converger struct {
	team    string
	members []Member
	timing  Timing
	mu      sync.Mutex // guards state
	state   map[string]localState
	result  Result
	steps.Changes
}

// Converge brings the team's swarm to the planned shape. Errors name the team, the node
// and the step.
func Converge(ctx context.Context, team string, members []Member, timing Timing) (Result, error) {
	if timing == (Timing{}) {
		timing = DefaultTiming
	}
	c := &converger{team: team, members: members, timing: timing, state: map[string]localState{}}
	c.result.NodeIDs = map[string]string{}
	err := steps.Run(ctx, team, []steps.Step{
		{Name: "wait for dockerd", Run: c.waitForDocker},
		{Name: "choose or init the manager", Run: c.ensureLeader},
		{Name: "read cluster ID and join tokens", Run: c.readTokens},
		{Name: "join nodes", Run: c.joinMembers},
		{Name: "wait for nodes to be ready", Run: c.waitReady},
		{Name: "remove stale node entries", Run: c.removeStale},
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

func inspectLocal(ctx context.Context, m Member) (localState, error) {
	out, err := m.Run.Run(ctx, "docker info --format '{{json .Swarm}}'")
	if err != nil {
		return localState{}, err
	}
	var s localState
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return localState{}, fmt.Errorf("node %s: cannot read docker info %q: %w", m.Name, out, err)
	}
	return s, nil
}

// waitForDocker polls every node concurrently until its dockerd answers.
func (c *converger) waitForDocker(ctx context.Context) error {
	return steps.Each(c.members, func(m Member) error {
		deadline := time.Now().Add(c.timing.DockerReady)
		for {
			s, err := inspectLocal(ctx, m)
			// A dockerd that has just started answers before its swarm component is up, and
			// reports an empty swarm state: that is not an answer yet.
			if err == nil && s.LocalNodeState == "" {
				err = fmt.Errorf("node %s: dockerd is up but its swarm state is not known yet", m.Name)
			}
			if err == nil {
				c.mu.Lock()
				c.state[m.Name] = s
				c.mu.Unlock()
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("dockerd did not answer within %s: %w", c.timing.DockerReady, err)
			}
			time.Sleep(c.timing.Poll)
		}
	})
}

// ensureLeader picks the first planned manager that already controls a swarm, or
// initialises one on the first planned manager.
func (c *converger) ensureLeader(ctx context.Context) error {
	for _, m := range c.members {
		if m.Role == plan.Manager && c.state[m.Name].ControlAvailable {
			c.result.ManagerAddr = m.IP + ":" + swarmPort
			return nil
		}
	}
	first := c.members[slices.IndexFunc(c.members, func(m Member) bool { return m.Role == plan.Manager })]
	// No manager controls a swarm: either nothing exists yet, or every manager was
	// replaced and the old swarm is gone. Leave whatever remnant the node holds and start over.
	if err := c.leaveIfInSwarm(ctx, first); err != nil {
		return err
	}
	if _, err := first.Run.Run(ctx, fmt.Sprintf("docker swarm init --advertise-addr %s --listen-addr %s:%s", first.IP, first.IP, swarmPort)); err != nil {
		return err
	}
	c.Did("init swarm on %s", first.Name)
	c.result.ManagerAddr = first.IP + ":" + swarmPort
	return nil
}

func (c *converger) leaveIfInSwarm(ctx context.Context, m Member) error {
	if c.state[m.Name].LocalNodeState == "inactive" {
		return nil
	}
	_, err := m.Run.Run(ctx, "docker swarm leave --force")
	switch {
	case err != nil && strings.Contains(err.Error(), "not part of a swarm"):
		// Its state was read while dockerd was still settling; there is nothing to leave.
	case err != nil:
		return err
	default:
		c.Did("%s left a swarm it should not be in (state %s)", m.Name, c.state[m.Name].LocalNodeState)
	}
	c.state[m.Name] = localState{LocalNodeState: "inactive"}
	return nil
}

// readTokens reads the cluster ID and join tokens from the leader. Right after a leader
// election a manager may already report control but not yet the cluster, so poll.
func (c *converger) readTokens(ctx context.Context) error {
	l := c.leader()
	deadline := time.Now().Add(c.timing.NodesReady)
	for c.result.ClusterID == "" {
		s, err := inspectLocal(ctx, l)
		if err != nil {
			return err
		}
		if s.Cluster != nil && s.Cluster.ID != "" {
			c.result.ClusterID = s.Cluster.ID
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("node %s: docker info shows no swarm cluster after %s (state %s)", l.Name, c.timing.NodesReady, s.LocalNodeState)
		}
		time.Sleep(c.timing.Poll)
	}
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
		s := c.state[m.Name]
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
		cmd := fmt.Sprintf("docker swarm join --token %s --advertise-addr %s --listen-addr %s:%s %s", token, m.IP, m.IP, swarmPort, c.result.ManagerAddr)
		if _, err := m.Run.Run(ctx, cmd); err != nil {
			// A slow join reports a timeout but goes on in the background (moby #25034);
			// waitReady decides whether it worked.
			if !strings.Contains(err.Error(), "will continue in the background") {
				return redact(err, token)
			}
		}
		c.Did("join %s as %s", m.Name, m.Role)
	}
	return nil
}

// redact keeps join tokens out of error messages, which end up in logs.
func redact(err error, token string) error {
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), token, "<token>"))
}

// waitReady waits until every member has a node ID that the leader lists as ready with
// the planned role.
func (c *converger) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(c.timing.NodesReady)
	for {
		pending, err := c.notReady(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %s: %s", c.timing.NodesReady, strings.Join(pending, "; "))
		}
		time.Sleep(c.timing.Poll)
	}
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
			pending = append(pending, fmt.Sprintf("node %s: not in the swarm (local state %s %s)", m.Name, s.LocalNodeState, s.Error))
		case n.Status.State != "ready":
			pending = append(pending, fmt.Sprintf("node %s: %s", m.Name, n.Status.State))
		case n.Spec.Role != string(m.Role):
			pending = append(pending, fmt.Sprintf("node %s: role %s, want %s", m.Name, n.Spec.Role, m.Role))
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

// onLeader runs a role change on the leader, retrying while Raft is still applying an
// earlier membership change ("can't find manager in raft memberlist").
func (c *converger) onLeader(ctx context.Context, cmd string) error {
	deadline := time.Now().Add(c.timing.NodesReady)
	for {
		_, err := c.leader().Run.Run(ctx, cmd)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil || !strings.Contains(err.Error(), "raft") {
			return err
		}
		time.Sleep(c.timing.Poll)
	}
}
