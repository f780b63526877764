// Package steps is the small machinery every convergence (swarm, Day-2 lab, Day-3 kind)
// shares: named steps run in order, work fanned out over nodes, and a record of what a run
// changed, so a rerun that finds nothing to do can say so.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/labfleet/labfleet/infra/plan"
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
}

// Run runs the steps in order and stops at the first failure, which it names with the team
// and the step: `team "team2": join nodes: node team2-w1: ...`.
func Run(ctx context.Context, team string, steps []Step) error {
	for _, s := range steps {
		if err := s.Run(ctx); err != nil {
			return fmt.Errorf("team %q: %s: %w", team, s.Name, err)
		}
	}
	return nil
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
