// Package integration runs labfleet against a real Docker engine: it builds the node image,
// starts node containers from the same nodecontainer.Spec the Pulumi program renders, and
// runs the real SSH bootstrap against them.
//
// Without a Docker engine these tests are skipped with a loud NOT RUN message, which is not
// a pass; CI sets LABFLEET_REQUIRE_DOCKER=1 to turn that into a failure.
package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

const nodeImage = "labfleet-it-node:latest"

var nodeImageBuild imageBuild

// imageBuild builds one image once per test run, from the Dockerfile the program uses.
type imageBuild struct {
	once sync.Once
	err  error
}

func (b *imageBuild) require(t *testing.T, ref string, buildArgs ...string) {
	t.Helper()
	b.once.Do(func() {
		start := time.Now()
		_, b.err = docker(context.Background(), append([]string{"build", "-q", "-t", ref}, buildArgs...)...)
		if b.err == nil {
			fmt.Printf("MEASURE built %s in %s\n", ref, time.Since(start).Round(time.Millisecond))
		}
	})
	if b.err != nil {
		t.Fatalf("building %s: %v", ref, b.err)
	}
}

// requireDocker skips (loudly) or fails when there is no engine to test against, and builds
// the node image.
func requireDocker(t *testing.T) {
	t.Helper()
	requireEngine(t)
	nodeImageBuild.require(t, nodeImage, filepath.Join(repoRoot(), infra.NodeImageContext))
}

// requireEngine is requireDocker without the node image, for tests that start other containers.
func requireEngine(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		msg := "NOT RUN (not a pass): no Docker engine answers `docker info`; run .ci/docker-host.sh first"
		if os.Getenv("LABFLEET_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
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

// docker runs the docker CLI on the test host.
var docker = localnodes.Docker

// cohort is a cohort's node containers on the local engine, created as `pulumi up` would.
type cohort struct {
	t    *testing.T
	plan *plan.Plan
	keys *sshkeys.Keys
	*localnodes.Cohort
}

const testSeed = "integration-test-seed-0123456789abcdef"

// newCohort plans cfg and starts every team's network, volumes and node containers.
// Everything carries the cohort label and is removed when the test ends.
func newCohort(t *testing.T, cfg plan.Config) *cohort {
	t.Helper()
	return newCohortOf(t, cfg, nodeImage)
}

// newCohortOf is newCohort with the given node image (the VM image for VM nodes).
func newCohortOf(t *testing.T, cfg plan.Config, image string) *cohort {
	t.Helper()
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.NodeKind == plan.NodeKindVM {
		facts, err := hostfacts.Local(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.CheckHost(facts); err != nil { // decides whether /dev/kvm goes in
			t.Fatal(err)
		}
	}
	return startCohort(t, p, image)
}

// startCohort starts a planned (and checked) cohort's networks, volumes and node
// containers, each team on its host's engine; they are removed when the test ends.
func startCohort(t *testing.T, p *plan.Plan, image string) *cohort {
	t.Helper()
	keys, err := sshkeys.New(testSeed, p.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	created, err := localnodes.Create(context.Background(), p, keys, image)
	t.Cleanup(func() { created.Remove(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	return &cohort{t: t, plan: p, keys: keys, Cohort: created}
}

func (c *cohort) find(nodeName string) (plan.Team, plan.Node) {
	c.t.Helper()
	team, n, err := c.Find(nodeName)
	if err != nil {
		c.t.Fatal(err)
	}
	return team, n
}

// replaceNode removes a node's container and volume and creates them again.
func (c *cohort) replaceNode(nodeName string) {
	c.t.Helper()
	if err := c.ReplaceNode(context.Background(), nodeName); err != nil {
		c.t.Fatal(err)
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
