// Package bootstrap turns running node containers into working team swarms over SSH.
// Teams are independent: they converge concurrently, and one team's failure is reported
// with its team and node names without stopping or undoing the others.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/bootstrap/swarm"
	"github.com/labfleet/labfleet/infra/plan"
)

// Options tune a run; the zero value is what `pulumi up` uses.
type Options struct {
	SSH     sshexec.Options
	Swarm   swarm.Timing
	Timeout time.Duration // for one team, end to end
	Log     func(msg string)
}

// Swarms converges every team's swarm and returns the result of each team that succeeded.
// The error, if any, lists every failed team.
func Swarms(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, opts Options) (map[string]swarm.Result, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	results := map[string]swarm.Result{}
	errs := make([]error, len(p.Teams))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, team := range p.Teams {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			start := time.Now()
			r, err := convergeTeam(ctx, p, team, keys, opts)
			if err != nil {
				errs[i] = err
				opts.Log(fmt.Sprintf("team %s: swarm FAILED after %s: %v", team.Name, time.Since(start).Round(time.Millisecond), err))
				return
			}
			mu.Lock()
			results[team.Name] = r
			mu.Unlock()
			summary := "no changes"
			if len(r.Actions) > 0 {
				summary = fmt.Sprint(r.Actions)
			}
			opts.Log(fmt.Sprintf("team %s: swarm %s ready in %s: %s", team.Name, r.ClusterID, time.Since(start).Round(time.Millisecond), summary))
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

func convergeTeam(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, opts Options) (swarm.Result, error) {
	clients, err := Connect(ctx, p, team, keys, opts.SSH)
	if err != nil {
		return swarm.Result{}, fmt.Errorf("team %q: connect: %w", team.Name, err)
	}
	defer CloseAll(clients)
	members := make([]swarm.Member, len(team.Nodes))
	for i, n := range team.Nodes {
		members[i] = swarm.Member{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: clients[n.Name]}
	}
	return swarm.Converge(ctx, team.Name, members, opts.Swarm)
}

// TeamNames lists results' teams in order, for stable output.
func TeamNames(results map[string]swarm.Result) []string {
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
