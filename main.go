// labfleet is a Pulumi program: one stack per bootcamp cohort, `pulumi up` gives every team
// its own multi-node Docker Swarm on docker-in-docker nodes, `pulumi destroy` removes it all.
package main

import (
	"context"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/infra/plan"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		return infra.Program(sshBootstrapper{ctx})(ctx)
	})
}

// sshBootstrapper runs the real bootstrap and reports progress in the Pulumi log.
type sshBootstrapper struct{ ctx *pulumi.Context }

func (b sshBootstrapper) Bootstrap(goctx context.Context, p *plan.Plan, keys *sshkeys.Keys, labImageIDs map[string]string) (map[string]bootstrap.TeamResult, error) {
	return bootstrap.Cohort(goctx, p, keys, labImageIDs, bootstrap.Options{Log: func(msg string) { b.ctx.Log.Info(msg, nil) }})
}
