package bootstrap

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

// teamOutcome is how one team's run ended.
type teamOutcome struct {
	team   plan.Team
	result TeamResult
	err    error
	took   time.Duration
}

// summaryChanges is how many of a team's changes the summary table lists before "+N more":
// the table stays readable, and the full list is in the team's own log line.
const summaryChanges = 3

// summaryTable is the closing table of a run: one row per team with its state, what the
// run changed and how long the team took, in plan order.
func summaryTable(outcomes []*teamOutcome) string {
	var b strings.Builder
	ready := 0
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TEAM\tSTATE\tTIME\tCHANGED")
	for _, o := range outcomes {
		state, changed := "ready", "no changes"
		switch {
		case o.err != nil:
			state, changed = "FAILED", firstLine(o.err.Error())
		default:
			ready++
			if actions := o.result.actions(); len(actions) > 0 {
				changed = strings.Join(actions[:min(len(actions), summaryChanges)], "; ")
				if more := len(actions) - summaryChanges; more > 0 {
					changed += fmt.Sprintf("; +%d more", more)
				}
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.team.Name, state, steps.Elapsed(o.took), changed)
	}
	w.Flush()
	return fmt.Sprintf("summary: %d of %d teams ready\n%s", ready, len(outcomes), strings.TrimRight(b.String(), "\n"))
}

// firstLine keeps a multi-line error to its first line, for a table cell.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
