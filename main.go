// labfleet is a Pulumi program: one stack per bootcamp cohort. `pulumi up` gives every team
// its own multi-node Docker Swarm, on docker-in-docker or VM nodes (containers on one or more
// Docker hosts) or on existing machines reached over SSH, with the Day-2 lab deployed and, on
// day 3, a kind cluster per team. `pulumi destroy` removes the containers, volumes and
// networks, and labfleet's accounts and files from the machines; the images it built stay on
// each host as a cache (make clean-images removes them).
//
// This file only wires the real SSH bootstrap (package bootstrap) into the program (package
// infra); the commands around it live in cmd/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

func main() {
	// Ctrl-C on `pulumi up` reaches the program too (SIGINT to the terminal's process
	// group; SIGTERM when the CLI is stopped): it ends every SSH command within seconds.
	interrupted, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pulumi.Run(func(ctx *pulumi.Context) error {
		defer engine.Cleanup() // the engines' TLS files and ssh wrappers
		return infra.Program(sshBootstrapper{ctx, interrupted}, hostfacts.DockerHosts{})(ctx)
	})
}

// sshBootstrapper runs the real bootstrap; its progress goes to the Pulumi log.
type sshBootstrapper struct {
	ctx         *pulumi.Context
	interrupted context.Context
}

func (b sshBootstrapper) Bootstrap(goctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs bootstrap.LabImages, report steps.Reporter) (map[string]bootstrap.TeamResult, error) {
	goctx, cancel := context.WithCancel(goctx)
	defer cancel()
	defer context.AfterFunc(b.interrupted, func() {
		b.ctx.Log.Warn("interrupted: stopping every team's SSH work; run pulumi up again to converge", nil)
		cancel()
	})()
	return bootstrap.Cohort(goctx, p, keys, labImageIDs, bootstrap.Options{Report: report})
}

func (b sshBootstrapper) TeardownMachines(goctx context.Context, team string, machines []bootstrap.Machine, signer ssh.Signer) error {
	b.ctx.Log.Info(fmt.Sprintf("removing labfleet from team %s's %d machines", team, len(machines)), nil)
	removed, err := bootstrap.TeardownMachines(goctx, team, machines, signer, sshexec.DefaultOptions)
	if len(removed) > 0 {
		b.ctx.Log.Info(fmt.Sprintf("team %s: %s", team, strings.Join(removed, "; ")), nil)
	}
	return err
}
