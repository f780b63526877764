package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day3"
)

// kindTimes is one way from a team's ready nodes to its kind cluster Ready, and back.
type kindTimes struct{ up, down time.Duration }

// kindBench measures Day 3 against the floor: labfleet's switch from a running day 2 to every
// team's cluster Ready (node image streamed to the team's first manager, preflight, kind
// create, lab images loaded, kubeconfig on every node) and back, against plain `docker exec`
// of `docker load` and `kind create cluster --wait` with the same rendered kind config on the
// same node containers, every team at once, and `kind delete cluster`.
func kindBench(ctx context.Context, teams int, lab labImages) error {
	cache := kindimage.DefaultCacheDir()
	start := time.Now()
	if _, err := kindimage.Build(ctx, ".", cache, plan.Engine{}); err != nil {
		return fmt.Errorf("kind node image: %w", err)
	}
	fmt.Fprintf(os.Stderr, "kind node image %s ready in %s\n", kindimage.Ref, time.Since(start).Round(100*time.Millisecond))
	tools, err := kindprep.BuildTools(ctx, ".", cache)
	if err != nil {
		return err
	}
	raw, err := kindCohort(ctx, "lfbench-kraw", teams, 23600, "172.23.0.0/16", func(ctx context.Context, c *localnodes.Cohort) (kindTimes, error) {
		return rawKind(ctx, c, tools)
	})
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	lf, err := kindCohort(ctx, "lfbench-kind", teams, 27600, "172.22.0.0/16", func(ctx context.Context, c *localnodes.Cohort) (kindTimes, error) {
		return labfleetKind(ctx, c, lab, cache)
	})
	if err != nil {
		return fmt.Errorf("labfleet: %w", err)
	}
	fmt.Printf("\n%d teams: a kind cluster of 1 control plane + 2 workers each, in the team's first manager (%s; same node containers and rendered kind config for both)\n\n",
		teams, kindimage.Ref)
	fmt.Printf("%-44s %12s %12s %8s\n", "", "raw exec", "labfleet", "ratio")
	row("day 2 -> every team's cluster Ready", raw.up, lf.up)
	row("day 3 -> day 2 (clusters deleted)", raw.down, lf.down)
	return nil
}

// kindCohort creates a cohort's node containers with Docker ready in them, runs measure on
// it and removes it.
func kindCohort(ctx context.Context, name string, teams, portBase int, pool string, measure func(context.Context, *localnodes.Cohort) (kindTimes, error)) (kindTimes, error) {
	cfg := plan.Defaults(name)
	cfg.Teams, cfg.SSHPortBase, cfg.AddressPool, cfg.NodeMemory = teams, portBase, pool, "4g"
	p, err := plan.Build(cfg)
	if err != nil {
		return kindTimes{}, err
	}
	keys, err := sshkeys.New("benchmark-seed-0123456789abcdef-0123", p.Cohort)
	if err != nil {
		return kindTimes{}, err
	}
	c, err := localnodes.Create(ctx, p, keys, image)
	defer c.Remove(context.WithoutCancel(ctx))
	if err != nil {
		return kindTimes{}, err
	}
	return measure(ctx, c)
}

// labfleetKind runs day 2 (not timed), then times the switch to day 3 and back, as `pulumi
// up` runs them.
func labfleetKind(ctx context.Context, c *localnodes.Cohort, lab labImages, cache string) (kindTimes, error) {
	var m kindTimes
	opts := bootstrap.Options{Report: progress, CacheDir: cache}
	if _, err := bootstrap.Cohort(ctx, c.Plan, c.Keys, bootstrap.LocalLabImages(lab), opts); err != nil {
		return m, err
	}
	day3 := *c.Plan
	day3.Day3.Prepare, day3.Day3.Clusters = true, true
	start := time.Now()
	if _, err := bootstrap.Cohort(ctx, &day3, c.Keys, bootstrap.LocalLabImages(lab), opts); err != nil {
		return m, err
	}
	m.up = time.Since(start)
	start = time.Now()
	if _, err := bootstrap.Cohort(ctx, c.Plan, c.Keys, bootstrap.LocalLabImages(lab), opts); err != nil {
		return m, err
	}
	m.down = time.Since(start)
	return m, nil
}

// rawKind is the floor: per team at once, the node image loaded into the first manager's
// Docker, kind and kubectl copied in, `kind create cluster --wait` (the control plane),
// `kubectl wait` for every node Ready (what labfleet waits for), then `kind delete cluster`.
func rawKind(ctx context.Context, c *localnodes.Cohort, tools kindprep.Tools) (kindTimes, error) {
	var m kindTimes
	d := c.Plan.Day3
	d.Prepare, d.Clusters = true, true
	configs := make([]day3.Config, len(c.Plan.Teams))
	for i, team := range c.Plan.Teams {
		cfg, err := day3.Render(d, team)
		if err != nil {
			return m, err
		}
		configs[i] = cfg
		n := team.Nodes[0]
		if err := poll(ctx, func() bool { _, err := rawExec(ctx, n, "docker info >/dev/null"); return err == nil }); err != nil {
			return m, fmt.Errorf("%s: dockerd: %w", n.Name, err)
		}
	}
	eachTeam := func(f func(plan.Team, day3.Config) error) error {
		errs := make([]error, len(c.Plan.Teams))
		var wg sync.WaitGroup
		for i, team := range c.Plan.Teams {
			wg.Go(func() { errs[i] = f(team, configs[i]) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	start := time.Now()
	err := eachTeam(func(team plan.Team, cfg day3.Config) error {
		n := team.Nodes[0]
		if err := pipeImage(ctx, d.NodeImage, n.ContainerName); err != nil {
			return fmt.Errorf("%s: loading %s: %w", n.Name, d.NodeImage, err)
		}
		loaded := time.Now()
		for _, tool := range []string{tools.Kind, tools.Kubectl} {
			if _, err := localnodes.Docker(ctx, "cp", tool, n.ContainerName+":/usr/local/bin/"); err != nil {
				return err
			}
		}
		create := localnodes.Command(ctx, "exec", "-i", n.ContainerName, "kind", "create", "cluster", "--config", "-", "--wait", "5m")
		create.Stdin = strings.NewReader(cfg.YAML)
		if out, err := create.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: kind create cluster: %v: %s", n.Name, err, out)
		}
		created := time.Now()
		if _, err := localnodes.Docker(ctx, "exec", n.ContainerName, "kubectl", "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=5m"); err != nil {
			return fmt.Errorf("%s: every node Ready: %w", n.Name, err)
		}
		fmt.Fprintf(os.Stderr, "raw %s: image loaded in %s, kind create --wait %s, every node Ready %s later\n", team.Name,
			loaded.Sub(start).Round(100*time.Millisecond), created.Sub(loaded).Round(100*time.Millisecond), time.Since(created).Round(100*time.Millisecond))
		return nil
	})
	m.up = time.Since(start)
	if err != nil {
		return m, err
	}
	start = time.Now()
	err = eachTeam(func(team plan.Team, cfg day3.Config) error {
		_, err := localnodes.Docker(ctx, "exec", team.Nodes[0].ContainerName, "kind", "delete", "cluster", "--name", cfg.ClusterName)
		return err
	})
	m.down = time.Since(start)
	return m, err
}

// pipeImage streams `docker save ref` into `docker load` inside a node container.
func pipeImage(ctx context.Context, ref, container string) error {
	save := localnodes.Command(ctx, "save", ref)
	load := localnodes.Command(ctx, "exec", "-i", container, "docker", "load", "-q")
	var err error
	if load.Stdin, err = save.StdoutPipe(); err != nil {
		return err
	}
	if err := save.Start(); err != nil {
		return err
	}
	out, loadErr := load.CombinedOutput()
	if saveErr := save.Wait(); saveErr != nil {
		return fmt.Errorf("docker save: %w", saveErr)
	}
	if loadErr != nil {
		return fmt.Errorf("docker load: %v: %s", loadErr, out)
	}
	return nil
}
