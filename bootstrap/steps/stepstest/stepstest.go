// Package stepstest is a scripted node for unit tests of the bootstrap's decisions: it
// answers commands from a script, by prefix, and records every command and its stdin, so a
// rule ("a locked swarm is never wiped") is pinned without a Docker engine or SSH.
package stepstest

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
)

// Node answers each command from the first script entry whose prefix the command has: the
// entry's outputs in turn (the last one repeats), or its error. Unscripted commands print
// nothing and succeed.
type Node struct {
	mu     sync.Mutex
	script []entry
	cmds   []string
	stdin  []string
}

type entry struct {
	prefix  string
	outputs []string
	err     error
}

// On scripts the outputs of commands starting with prefix.
func (n *Node) On(prefix string, outputs ...string) *Node {
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
func (n *Node) RunWithInput(_ context.Context, cmd string, in io.Reader) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmds = append(n.cmds, cmd)
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
	return "", nil
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

// Commands returns every command run so far, in order.
func (n *Node) Commands() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.cmds)
}

// Stdin returns what every command was given on stdin, in order.
func (n *Node) Stdin() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.stdin)
}
