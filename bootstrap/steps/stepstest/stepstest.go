// Package stepstest is a scripted node for unit tests of the bootstrap's decisions: it
// answers commands from a script, by prefix, and records every command and its stdin, so a
// rule ("a locked swarm is never wiped") is pinned without a Docker engine or SSH.
package stepstest

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Node answers each command from the first script entry whose prefix the command has: the
// entry's outputs in turn (the last one repeats), or its error. A command nobody scripted
// is a mistake of the test or of the code under test, never a success: it fails the test
// the Node was made for (New) and returns an *UnscriptedError naming the command. A command
// asked for under a context that has ended is not answered: it returns the context's cause,
// as a real node's session would, so code that ignores a cancellation is seen doing so.
type Node struct {
	t          testing.TB
	mu         sync.Mutex
	script     []entry
	cmds       []string
	stdin      []string
	unscripted []string
}

type entry struct {
	prefix  string
	outputs []string
	err     error
}

// New returns an empty Node whose unscripted commands fail t.
func New(t testing.TB) *Node { return &Node{t: t} }

// UnscriptedError is the answer to a command that no script entry matches.
type UnscriptedError struct{ Cmd string }

func (e *UnscriptedError) Error() string {
	return fmt.Sprintf("stepstest: unscripted command %q (script it with On or Fail)", e.Cmd)
}

// On scripts the outputs of commands starting with prefix.
func (n *Node) On(prefix string, outputs ...string) *Node {
	if len(outputs) == 0 {
		outputs = []string{""}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.script = append([]entry{{prefix: prefix, outputs: outputs}}, n.script...)
	return n
}

// Fail scripts commands starting with prefix to fail with err.
func (n *Node) Fail(prefix string, err error) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.script = append([]entry{{prefix: prefix, err: err}}, n.script...)
	return n
}

// Run implements steps.Runner.
func (n *Node) Run(ctx context.Context, cmd string) (string, error) {
	return n.RunWithInput(ctx, cmd, nil)
}

// RunWithInput implements steps.Runner.
func (n *Node) RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmds = append(n.cmds, cmd)
	if ctx.Err() != nil {
		return "", fmt.Errorf("stepstest: %q: %w", cmd, context.Cause(ctx))
	}
	if in != nil {
		b, _ := io.ReadAll(in)
		n.stdin = append(n.stdin, string(b))
	}
	for i := range n.script {
		e := &n.script[i]
		if !strings.HasPrefix(cmd, e.prefix) {
			continue
		}
		if e.err != nil {
			return "", e.err
		}
		out := e.outputs[0]
		if len(e.outputs) > 1 {
			e.outputs = e.outputs[1:]
		}
		return out, nil
	}
	n.unscripted = append(n.unscripted, cmd)
	err := &UnscriptedError{Cmd: cmd}
	if n.t != nil {
		n.t.Errorf("%v", err)
	}
	return "", err
}

// Ran reports whether some command started with prefix.
func (n *Node) Ran(prefix string) bool { return n.Count(prefix) > 0 }

// Count is how many commands started with prefix.
func (n *Node) Count(prefix string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, cmd := range n.cmds {
		if strings.HasPrefix(cmd, prefix) {
			c++
		}
	}
	return c
}

// Matching returns every command run so far that re matches anywhere, in order: for rules
// about what must never run, which a prefix would miss behind `sudo` or `sh -c`.
func (n *Node) Matching(re *regexp.Regexp) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, cmd := range n.cmds {
		if re.MatchString(cmd) {
			out = append(out, cmd)
		}
	}
	return out
}

// Commands returns every command run so far, in order.
func (n *Node) Commands() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.cmds)
}

// Unscripted returns every command that no script entry answered, in order.
func (n *Node) Unscripted() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.unscripted)
}

// Stdin returns what every command was given on stdin, in order.
func (n *Node) Stdin() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.stdin)
}
