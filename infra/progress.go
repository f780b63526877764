package infra

import (
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// pulumiReporter shows the bootstrap's progress in `pulumi up` while it runs: each team's
// messages on that team's row (kept ones in the diagnostics too), cohort-wide ones on the
// cohort. Status messages are ephemeral: the row shows the latest, the final diagnostics
// keep only what Info said.
type pulumiReporter struct {
	log    pulumi.Log
	cohort pulumi.Resource
	teams  map[string]pulumi.Resource

	mu sync.Mutex // pulumi.Log is not documented as safe for concurrent use
}

func newPulumiReporter(log pulumi.Log, c *Cohort) *pulumiReporter {
	r := &pulumiReporter{log: log, cohort: c, teams: map[string]pulumi.Resource{}}
	for _, t := range c.Teams {
		r.teams[t.Plan.Name] = t
	}
	return r
}

func (r *pulumiReporter) resource(team string) pulumi.Resource {
	if res, ok := r.teams[team]; ok {
		return res
	}
	return r.cohort
}

// Info keeps msg in the team's (or the cohort's) diagnostics.
func (r *pulumiReporter) Info(team, msg string) { r.send(team, msg, false) }

// Status shows msg on the team's row until the next one.
func (r *pulumiReporter) Status(team, msg string) { r.send(team, msg, true) }

func (r *pulumiReporter) send(team, msg string, ephemeral bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A log that cannot be written must not fail the bootstrap it describes.
	_ = r.log.Info(msg, &pulumi.LogArgs{Resource: r.resource(team), Ephemeral: ephemeral})
}
