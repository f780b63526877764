// Package integration runs labfleet against a real Docker engine: it builds the node image,
// starts node containers from the same nodecontainer.Spec the Pulumi program renders, and
// runs the real SSH bootstrap against them.
//
// Without a Docker engine these tests are skipped with a loud NOT RUN message, which is not
// a pass; CI sets LABFLEET_REQUIRE_DOCKER=1 to turn that into a failure.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/infra/nodecontainer"
	"github.com/labfleet/labfleet/infra/plan"
)

const nodeImage = "labfleet-it-node:latest"

var (
	imageOnce sync.Once
	imageErr  error
)

// requireDocker skips (loudly) or fails when there is no engine to test against.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		msg := "NOT RUN (not a pass): no Docker engine answers `docker info`; run .ci/docker-host.sh first"
		if os.Getenv("LABFLEET_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	imageOnce.Do(func() {
		start := time.Now()
		_, imageErr = docker(context.Background(), "build", "-q", "-t", nodeImage, filepath.Join(repoRoot(), infra.NodeImageContext))
		if imageErr == nil {
			fmt.Printf("built %s in %s\n", nodeImage, time.Since(start).Round(time.Millisecond))
		}
	})
	if imageErr != nil {
		t.Fatalf("building the node image: %v", imageErr)
	}
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for !fileExists(filepath.Join(dir, "go.mod")) {
		dir = filepath.Dir(dir)
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// docker runs the docker CLI (legacy builder: this host has no buildx) and returns stdout,
// or an error that carries the command and stderr.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// cohort is a cohort's node containers on the local engine, created as `pulumi up` would.
type cohort struct {
	t    *testing.T
	plan *plan.Plan
	keys *sshkeys.Keys
}

const testSeed = "integration-test-seed-0123456789abcdef"

// newCohort plans cfg and starts every team's network, volumes and node containers.
// Everything carries the cohort label and is removed when the test ends.
func newCohort(t *testing.T, cfg plan.Config) *cohort {
	t.Helper()
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sshkeys.New(testSeed, p.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	c := &cohort{t: t, plan: p, keys: keys}
	c.removeAll() // leftovers of an interrupted earlier run
	t.Cleanup(c.removeAll)
	ctx := context.Background()
	for _, team := range p.Teams {
		if _, err := docker(ctx, "network", "create", "--driver", "bridge", "--subnet", team.Subnet.String(),
			"--gateway", team.Gateway.String(), "--label", "labfleet.cohort="+p.Cohort, team.NetworkName); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, team := range p.Teams {
		for _, n := range team.Nodes {
			wg.Go(func() {
				if err := c.startNode(ctx, team.Name, n.Name); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return c
}

func (c *cohort) find(nodeName string) (plan.Team, plan.Node) {
	for _, team := range c.plan.Teams {
		for _, n := range team.Nodes {
			if n.Name == nodeName {
				return team, n
			}
		}
	}
	c.t.Fatalf("no node %s in the plan", nodeName)
	return plan.Team{}, plan.Node{}
}

// startNode creates a node exactly as the program's spec says: volume, container,
// uploads copied in before start, then start.
func (c *cohort) startNode(ctx context.Context, teamName, nodeName string) error {
	team, n := c.find(nodeName)
	spec := nodecontainer.For(c.plan, team, n, nodeImage, c.keys)
	if _, err := docker(ctx, "volume", "create", "--label", "labfleet.cohort="+c.plan.Cohort, spec.Volume); err != nil {
		return err
	}
	if _, err := docker(ctx, append([]string{"create"}, spec.DockerCreateArgs()...)...); err != nil {
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
		fmt.Sscanf(u.Mode, "%o", &mode)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(u.Content), mode); err != nil {
			return err
		}
	}
	if _, err := docker(ctx, "cp", staging+"/.", spec.Name+":/"); err != nil {
		return err
	}
	_, err = docker(ctx, "start", spec.Name)
	return err
}

// replaceNode removes a node's container and volume and creates them again: a lost node
// coming back with a fresh identity, as after a replace in `pulumi up`.
func (c *cohort) replaceNode(nodeName string) {
	c.t.Helper()
	_, n := c.find(nodeName)
	ctx := context.Background()
	if _, err := docker(ctx, "rm", "-f", "-v", n.ContainerName); err != nil {
		c.t.Fatal(err)
	}
	if _, err := docker(ctx, "volume", "rm", n.VolumeName); err != nil {
		c.t.Fatal(err)
	}
	if err := c.startNode(ctx, n.Team, n.Name); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cohort) removeAll() {
	ctx := context.Background()
	filter := "label=labfleet.cohort=" + c.plan.Cohort
	if ids, _ := docker(ctx, "ps", "-aq", "--filter", filter); strings.TrimSpace(ids) != "" {
		docker(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...)
	}
	if ids, _ := docker(ctx, "volume", "ls", "-q", "--filter", filter); strings.TrimSpace(ids) != "" {
		docker(ctx, append([]string{"volume", "rm", "-f"}, strings.Fields(ids)...)...)
	}
	if ids, _ := docker(ctx, "network", "ls", "-q", "--filter", filter); strings.TrimSpace(ids) != "" {
		docker(ctx, append([]string{"network", "rm"}, strings.Fields(ids)...)...)
	}
}

// ssh opens a student session on a node, the way a student would: with the team's key,
// checking the node's pinned host key.
func (c *cohort) ssh(nodeName string) *sshexec.Client {
	c.t.Helper()
	team, n := c.find(nodeName)
	cl, err := sshexec.Dial(context.Background(), sshexec.Target{
		Node: n.Name, Addr: c.plan.SSHTarget(n), User: c.plan.SSHUser,
		Signer: c.keys.Student(team.Name).Signer(), HostKey: c.keys.Host(n.Name).PublicKey(),
	}, sshexec.DefaultOptions)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

func (c *cohort) run(nodeName, cmd string) string {
	c.t.Helper()
	out, err := c.ssh(nodeName).Run(context.Background(), cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}
