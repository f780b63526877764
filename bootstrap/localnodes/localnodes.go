// Package localnodes creates a cohort's networks, volumes and node containers with the
// docker CLI, each team on its host's engine, from the same nodecontainer.Spec the Pulumi
// program renders, in the same order the provider uses (create, copy uploads, start). The
// integration tests and the benchmark use it where `pulumi up` cannot run.
package localnodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/model/nodecontainer"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// Docker runs the docker CLI on the local engine; see engine.Docker.
func Docker(ctx context.Context, args ...string) (string, error) {
	return engine.Docker(ctx, plan.Engine{}, args...)
}

// Command is the docker CLI command Docker runs, for callers that stream its stdin.
func Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd, _ := engine.Command(ctx, plan.Engine{}, args...) // only a remote engine's settings can fail
	return cmd
}

// Cohort is a planned cohort on its hosts' engines.
type Cohort struct {
	Plan  *plan.Plan
	Keys  *sshkeys.Keys
	Image string // node image reference
}

// Create starts every team's network, volumes and node containers, all nodes in parallel.
// Whatever an earlier, interrupted run left under the same cohort name is removed first.
func Create(ctx context.Context, p *plan.Plan, keys *sshkeys.Keys, image string) (*Cohort, error) {
	c := &Cohort{Plan: p, Keys: keys, Image: image}
	c.Remove(ctx)
	for _, team := range p.Teams {
		if _, err := c.docker(ctx, team.Host, "network", "create", "--driver", "bridge", "--subnet", team.Subnet.String(),
			"--gateway", team.Gateway.String(), "--label", "labfleet.cohort="+p.Cohort, "--label", "labfleet.team="+team.Name, team.NetworkName); err != nil {
			return c, err
		}
	}
	var nodes []plan.Node
	for _, team := range p.Teams {
		nodes = append(nodes, team.Nodes...)
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = c.StartNode(ctx, n.Name) })
	}
	wg.Wait()
	return c, errors.Join(errs...)
}

// Find returns a planned node and its team.
func (c *Cohort) Find(nodeName string) (plan.Team, plan.Node, error) {
	for _, team := range c.Plan.Teams {
		for _, n := range team.Nodes {
			if n.Name == nodeName {
				return team, n, nil
			}
		}
	}
	return plan.Team{}, plan.Node{}, fmt.Errorf("no node %s in the plan", nodeName)
}

// StartNode creates a node's volume and container from its spec, copies the uploads in
// before start (as the provider does), and starts it.
func (c *Cohort) StartNode(ctx context.Context, nodeName string) error {
	team, n, err := c.Find(nodeName)
	if err != nil {
		return err
	}
	spec := nodecontainer.For(c.Plan, team, n, c.Image, c.Keys)
	for _, m := range spec.Mounts {
		// Kept when it exists, as Pulumi keeps a replaced container's volumes.
		if _, err := c.docker(ctx, n.Host, "volume", "inspect", m.Volume); err == nil {
			continue
		}
		if _, err := c.docker(ctx, n.Host, "volume", "create", "--label", "labfleet.cohort="+c.Plan.Cohort, "--label", "labfleet.team="+team.Name, m.Volume); err != nil {
			return err
		}
	}
	if _, err := c.docker(ctx, n.Host, append([]string{"create"}, spec.DockerCreateArgs()...)...); err != nil {
		return err
	}
	staging, err := os.MkdirTemp("", "labfleet-uploads-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	for _, u := range spec.Uploads {
		path := filepath.Join(staging, u.Path)
		var mode os.FileMode
		if _, err := fmt.Sscanf(u.Mode, "%o", &mode); err != nil {
			return fmt.Errorf("upload %s: mode %q: %w", u.Path, u.Mode, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(u.Content), mode); err != nil {
			return err
		}
	}
	if _, err := c.docker(ctx, n.Host, "cp", staging+"/.", spec.Name+":/"); err != nil {
		return err
	}
	_, err = c.docker(ctx, n.Host, "start", spec.Name)
	return err
}

// ReplaceNode removes a node's container and the volume of its /var/lib/docker (a VM node's
// disk) and creates them again: a node lost with its swarm identity, coming back fresh.
func (c *Cohort) ReplaceNode(ctx context.Context, nodeName string) error {
	return c.replace(ctx, nodeName, true)
}

// ReplaceContainer removes a node's container and creates it again on the same volumes: what
// `pulumi up` does to a node whose container settings changed.
func (c *Cohort) ReplaceContainer(ctx context.Context, nodeName string) error {
	return c.replace(ctx, nodeName, false)
}

func (c *Cohort) replace(ctx context.Context, nodeName string, lost bool) error {
	_, n, err := c.Find(nodeName)
	if err != nil {
		return err
	}
	if _, err := c.docker(ctx, n.Host, "rm", "-f", "-v", n.ContainerName); err != nil {
		return err
	}
	if lost {
		if _, err := c.docker(ctx, n.Host, "volume", "rm", n.VolumeName); err != nil {
			return err
		}
	}
	return c.StartNode(ctx, n.Name)
}

// Remove deletes every container, volume and network labelled with the cohort, on every
// host of the plan.
func (c *Cohort) Remove(ctx context.Context) {
	filter := "label=labfleet.cohort=" + c.Plan.Cohort
	for _, h := range c.Plan.Hosts {
		for _, kind := range [][]string{{"ps", "-aq"}, {"volume", "ls", "-q"}, {"network", "ls", "-q"}} {
			ids, _ := c.docker(ctx, h.Name, append(kind, "--filter", filter)...)
			if strings.TrimSpace(ids) == "" {
				continue
			}
			rm := map[string][]string{"ps": {"rm", "-f", "-v"}, "volume": {"volume", "rm", "-f"}, "network": {"network", "rm"}}[kind[0]]
			c.docker(ctx, h.Name, append(rm, strings.Fields(ids)...)...)
		}
	}
}

// docker runs the docker CLI on a host's engine.
func (c *Cohort) docker(ctx context.Context, host string, args ...string) (string, error) {
	return engine.Docker(ctx, c.Plan.Host(host).Engine, args...)
}
