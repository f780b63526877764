package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

const vmImage = "labfleet-bench-vm:latest"

// vmTimes is one node kind's way from containers created to a ready swarm.
type vmTimes struct {
	toSSH, toReady time.Duration
	memMB          float64
	accel          string
}

// vmBench brings up the same team (1 manager + 1 worker) as dind nodes and as VM nodes, in
// one run, and prints boot to SSH, boot to swarm Ready and memory per idle node.
func vmBench(ctx context.Context) error {
	if _, err := localnodes.Docker(ctx, "build", "-q", "-f", infra.VMImageDockerfile, "-t", vmImage, filepath.Join(".", infra.VMImageContext)); err != nil {
		return err
	}
	dind, err := bootKind(ctx, "lfbench-dind", plan.NodeKindDind, image, 23800, "172.22.0.0/16")
	if err != nil {
		return fmt.Errorf("dind nodes: %w", err)
	}
	vm, err := bootKind(ctx, "lfbench-vm", plan.NodeKindVM, vmImage, 23900, "172.23.0.0/16")
	if err != nil {
		return fmt.Errorf("VM nodes: %w", err)
	}
	fmt.Printf("\n1 team x 2 nodes (1 manager + 1 worker); VM nodes under %s, vmMemory 1g\n\n", vm.accel)
	fmt.Printf("%-40s %12s %12s %8s\n", "", "dind", "vm", "ratio")
	row := func(name string, a, b time.Duration) {
		fmt.Printf("%-40s %12s %12s %7.1fx\n", name, a.Round(100*time.Millisecond), b.Round(100*time.Millisecond), float64(b)/float64(a))
	}
	row("containers created -> SSH answers", dind.toSSH, vm.toSSH)
	row("containers created -> swarm Ready", dind.toReady, vm.toReady)
	fmt.Printf("%-40s %10.0fMB %10.0fMB %7.1fx\n", "memory per idle node (docker stats)", dind.memMB, vm.memMB, vm.memMB/dind.memMB)
	return nil
}

func bootKind(ctx context.Context, name string, kind plan.NodeKind, img string, portBase int, pool string) (vmTimes, error) {
	var m vmTimes
	cfg := plan.Defaults(name)
	cfg.Teams, cfg.Workers, cfg.SSHPortBase, cfg.AddressPool, cfg.Day2Stack, cfg.NodeKind = 1, 1, portBase, pool, false, string(kind)
	p, err := plan.Build(cfg)
	if err != nil {
		return m, err
	}
	facts, err := hostfacts.Local(ctx)
	if err != nil {
		return m, err
	}
	if err := p.CheckHost(facts); err != nil {
		return m, err
	}
	keys, err := sshkeys.New("benchmark-seed-0123456789abcdef-0123", p.Cohort)
	if err != nil {
		return m, err
	}
	c, err := localnodes.Create(ctx, p, keys, img)
	defer c.Remove(context.WithoutCancel(ctx))
	if err != nil {
		return m, err
	}
	start := time.Now()
	// Waits as long as the bootstrap gives these nodes (their pace) for sshd to answer.
	paced := steps.WithPace(ctx, steps.Pace(p.Pace(p.Teams[0], "")))
	clients, err := bootstrap.Connect(paced, p, p.Teams[0], keys, sshexec.DefaultOptions)
	if err != nil {
		return m, err
	}
	m.toSSH = time.Since(start)
	out, _ := clients[p.Teams[0].Nodes[0].Name].Run(ctx, "cat /etc/labfleet/accel 2>/dev/null || true")
	m.accel = strings.TrimSpace(out)
	bootstrap.CloseAll(clients)
	if _, err := bootstrap.Cohort(ctx, p, keys, nil, bootstrap.Options{}); err != nil {
		return m, err
	}
	m.toReady = time.Since(start)
	time.Sleep(20 * time.Second) // let the guests settle before reading memory
	m.memMB, err = memoryPerNode(ctx, p.Cohort)
	return m, err
}
