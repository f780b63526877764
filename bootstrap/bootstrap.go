// Package bootstrap turns running node containers into working team swarms over SSH, and
// puts the Day-2 lab on them. Teams are independent: they converge concurrently, and one
// team's failure is reported with its team and node names without stopping or undoing the
// others.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/infra/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Options tune a run; the zero value is what `pulumi up` uses.
type Options struct {
	SSH     sshexec.Options
	Swarm   swarm.Timing
	Lab     lab.Timing
	Timeout time.Duration // for one team, end to end
	Log     func(msg string)
}

// TeamResult is one team's converged state.
type TeamResult struct {
	Swarm swarm.Result
	Lab   *lab.Result // nil when the Day-2 stack is off
}

// Cohort converges every team's swarm and, when the plan enables it, sets up the Day-2 lab
// with the lab images whose host image IDs are given (by image name). It returns the result
// of each team that succeeded; the error, if any, lists every failed team.
func Cohort(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs map[string]string, opts Options) (map[string]TeamResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	var images []lab.Image
	if p.Day2.Enabled {
		dir, err := os.MkdirTemp("", "labfleet-images-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if images, err = lab.Save(ctx, dir, day2.Images, labImageIDs); err != nil {
			return nil, err
		}
	}
	results := map[string]TeamResult{}
	errs := make([]error, len(p.Teams))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, team := range p.Teams {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			start := time.Now()
			r, err := convergeTeam(ctx, p, team, keys, images, opts)
			if err != nil {
				errs[i] = err
				opts.Log(fmt.Sprintf("team %s: swarm FAILED after %s: %v", team.Name, time.Since(start).Round(time.Millisecond), err))
				return
			}
			mu.Lock()
			results[team.Name] = r
			mu.Unlock()
			actions := r.Swarm.Actions
			if r.Lab != nil {
				actions = append(slices.Clone(actions), r.Lab.Actions...)
			}
			summary := "no changes"
			if len(actions) > 0 {
				summary = strings.Join(actions, "; ")
			}
			opts.Log(fmt.Sprintf("team %s: swarm %s ready in %s: %s", team.Name, r.Swarm.ClusterID, time.Since(start).Round(time.Millisecond), summary))
			if r.Lab != nil {
				for _, n := range r.Lab.Notes {
					opts.Log(fmt.Sprintf("team %s: note: %s", team.Name, n))
				}
			}
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// Connect opens an SSH client to every node of a team, concurrently. On error every
// client already opened is closed.
func Connect(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, opts sshexec.Options) (map[string]*sshexec.Client, error) {
	clients := map[string]*sshexec.Client{}
	errs := make([]error, len(team.Nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	student := keys.Student(team.Name).Signer()
	for i, n := range team.Nodes {
		wg.Go(func() {
			c, err := sshexec.Dial(ctx, sshexec.Target{
				Node:    n.Name,
				Addr:    p.SSHTarget(n),
				User:    p.SSHUser,
				Signer:  student,
				HostKey: keys.Host(n.Name).PublicKey(),
			}, opts)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			clients[n.Name] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		CloseAll(clients)
		return nil, err
	}
	return clients, nil
}

// CloseAll closes every client.
func CloseAll(clients map[string]*sshexec.Client) {
	for _, c := range clients {
		c.Close()
	}
}

func convergeTeam(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, images []lab.Image, opts Options) (TeamResult, error) {
	clients, err := Connect(ctx, p, team, keys, opts.SSH)
	if err != nil {
		return TeamResult{}, fmt.Errorf("team %q: connect: %w", team.Name, err)
	}
	defer CloseAll(clients)
	members := make([]swarm.Member, len(team.Nodes))
	for i, n := range team.Nodes {
		members[i] = swarm.Member{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: clients[n.Name]}
	}
	var r TeamResult
	if r.Swarm, err = swarm.Converge(ctx, team.Name, members, opts.Swarm); err != nil || !p.Day2.Enabled {
		return r, err
	}
	nodes := make([]lab.Node, len(team.Nodes))
	for i, n := range team.Nodes {
		nodes[i] = lab.Node{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: clients[n.Name]}
	}
	labResult, err := lab.Setup(ctx, team.Name, nodes, p.Day2, images, opts.Lab)
	r.Lab = &labResult
	return r, err
}
