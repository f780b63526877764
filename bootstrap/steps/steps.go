// Package steps is the small machinery every convergence (swarm, Day-2 lab, Day-3 kind)
// shares: named steps run in order, work fanned out over nodes, and a record of what a run
// changed, so a rerun that finds nothing to do can say so.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/model/plan"
)

// Runner runs a shell command on a node and returns its stdout; RunWithInput also streams
// stdin (an image for `docker load`, a file to write). sshexec.Client is the real one.
type Runner interface {
	Run(ctx context.Context, cmd string) (string, error)
	RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error)
}

// Node is one planned node of a team and a way to run commands on it.
type Node struct {
	Name string
	Role plan.Role
	IP   string // the node's address on the team network
	Run  Runner
}

// Step is one named, idempotent piece of a team's convergence.
type Step struct {
	Name string
	Run  func(context.Context) error
	// Timeout bounds this step alone (0: only the caller's context), so a 1 GB image
	// stream and a quick role check do not share one budget. It is the limit on a
	// docker-in-docker node; the Pace the context carries scales it.
	Timeout time.Duration
}

// Run runs the steps in order and stops at the first failure, which it names with the team
// and the step: `team "team2": join nodes: node team2-w1: ...` (team "" is work for the
// whole cohort). A cancelled ctx (Ctrl-C on pulumi up) starts no further step, even when the
// step under way ends well. Each step's start, progress and end go to the Reporter that ctx
// carries (WithReporter).
func Run(ctx context.Context, team string, steps []Step) error {
	for _, s := range steps {
		where, err := s.Name, context.Cause(ctx)
		if err != nil {
			where = "stopped before " + s.Name
		} else {
			err = reportStep(ctx, team, s)
		}
		if err != nil {
			if team == "" {
				return fmt.Errorf("%s: %w", where, err)
			}
			return fmt.Errorf("team %q: %s: %w", team, where, err)
		}
	}
	return nil
}

func runStep(ctx context.Context, s Step) error {
	if s.Timeout > 0 {
		limit := PaceOf(ctx).Scale(s.Timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, limit, fmt.Errorf("step took longer than its %s limit", limit))
		defer cancel()
	}
	return WithCause(ctx, s.Run(ctx))
}

// WithCause adds to err why ctx ended, when ctx ended with a cause of its own (a limit) that
// err does not already say: "context deadline exceeded" alone does not say which limit.
func WithCause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != ctx.Err() && !strings.Contains(err.Error(), context.Cause(ctx).Error()) {
		err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	return err
}

// FirstManager returns the first planned manager among nodes: the one that initialises a
// new swarm, deploys the Day-2 stack and hosts the Day-3 cluster.
func FirstManager(nodes []Node) (Node, bool) {
	for _, n := range nodes {
		if n.Role == plan.Manager {
			return n, true
		}
	}
	return Node{}, false
}

// Limit bounds how many of something run at once across every team (SSH dials, image
// streams). The zero Limit is unbounded.
type Limit struct{ slots chan struct{} }

// NewLimit allows n at once; n <= 0 means no bound.
func NewLimit(n int) *Limit {
	if n <= 0 {
		return &Limit{}
	}
	return &Limit{slots: make(chan struct{}, n)}
}

// Do runs fn when a slot is free, or returns ctx's error if the run ends first.
func (l *Limit) Do(ctx context.Context, fn func() error) error {
	if l == nil || l.slots == nil {
		return fn()
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-l.slots }()
	return fn()
}

// Each runs fn for every item concurrently and reports every failure, not just the first.
func Each[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Go(func() { errs[i] = fn(item) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Changes records what a run changed; steps running concurrently may add to it.
type Changes struct {
	mu   sync.Mutex
	list []string
}

// Did records one change.
func (c *Changes) Did(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, fmt.Sprintf(format, args...))
}

// List returns the changes so far, in the order they were made.
func (c *Changes) List() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}
