package status

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/outputs"
)

// ProbeRun is one labprobe run kept on a node (stacks/apps/cmd/labprobe, keep.go: Run, one
// JSON line each in ~/.labprobe/runs.jsonl), with the node it ran on and the Day-2 phase it
// measured. Phase 3 of the lab compares them.
type ProbeRun struct {
	Node            string    `json:"node"`
	Phase           Phase     `json:"phase"`
	URL             string    `json:"url"`
	Started         time.Time `json:"started"`
	Ended           time.Time `json:"ended"`
	Checks          int       `json:"checks"`
	OK              int       `json:"ok"`
	Availability    float64   `json:"availability"`
	Outages         int       `json:"outages"`
	LongestOutageMS int64     `json:"longestOutageMs"`
	Recoveries      int       `json:"recoveries"`
	MeanRecoveryMS  int64     `json:"meanRecoveryMs"`
	NotRecoveredMS  int64     `json:"notRecoveredMs"`
	ServedBy        []string  `json:"servedBy"`
}

// Phase is which part of the Day-2 lab a run measured, judged from what answered it.
type Phase string

const (
	// PhaseSwarm: improved-app answered (it names the task in X-Served-By): Phase 2's
	// swarm service.
	PhaseSwarm Phase = "swarm"
	// PhaseSingle: something answered that names no task: Phase 1's memory-leak-app, a
	// single container.
	PhaseSingle Phase = "single container"
	// PhaseNone: nothing ever answered; the run measured nothing of either phase.
	PhaseNone Phase = "never answered"
)

// phaseOf judges a run by its evidence.
func phaseOf(r ProbeRun) Phase {
	switch {
	case len(r.ServedBy) > 0:
		return PhaseSwarm
	case r.OK > 0:
		return PhaseSingle
	default:
		return PhaseNone
	}
}

// runsLimit bounds the runs read per file, and runsBytes what one file may send: a
// student's loop of thousands of short runs, or a huge file of their making, must not make
// every status call slow, nor its memory grow.
const (
	runsLimit = 200
	runsBytes = 1 << 20
)

// runsQuery prints the runs kept in every home on the node (students may use any account
// they made), read as root through labfleet's passwordless sudo: only regular files (find
// does not follow a symlink a student put there), each cut to its last runsLimit lines and
// runsBytes bytes; nothing when there are none.
var runsQuery = fmt.Sprintf(`sudo -n sh -c 'find /root/.labprobe /home/*/.labprobe -maxdepth 1 -name runs.jsonl -type f 2>/dev/null | `+
	`while read -r f; do tail -n %d "$f" | head -c %d; echo; done; true'`, runsLimit, runsBytes)

// readRuns gathers the runs kept on every node that answered, oldest first, and names the
// nodes that answered but whose runs could not be read: the runs are the lab's record, not
// the team's health, so that is no problem of the team's, only a gap in the comparison.
func readRuns(ctx context.Context, t Team, conns map[string]steps.Runner) (runs []ProbeRun, unread []string) {
	runs = []ProbeRun{}
	answers := askEachNode(ctx, t, conns, runsQuery)
	for _, n := range t.Outputs.Nodes {
		out, ok := answers[n.Name]
		if !ok {
			if _, reached := conns[n.Name]; reached {
				unread = append(unread, n.Name)
			}
			continue
		}
		runs = append(runs, parseRuns(n.Name, out)...)
	}
	slices.SortFunc(runs, func(a, b ProbeRun) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return runs, unread
}

// askEachNode runs a read-only query on every node that answered, at once, and returns the
// answers by node; a node whose query fails is left out.
func askEachNode(ctx context.Context, t Team, conns map[string]steps.Runner, query string) map[string]string {
	var mu sync.Mutex
	answers := map[string]string{}
	_ = steps.Each(t.Outputs.Nodes, func(n outputs.Node) error {
		c, ok := conns[n.Name]
		if !ok {
			return nil
		}
		if out, err := c.Run(ctx, query); err == nil {
			mu.Lock()
			answers[n.Name] = out
			mu.Unlock()
		}
		return nil
	})
	return answers
}

// parseRuns reads one JSON run per line; a line that is not one (a file a student edited)
// is skipped.
func parseRuns(node, out string) []ProbeRun {
	var runs []ProbeRun
	for _, line := range strings.Split(out, "\n") {
		var r ProbeRun
		if strings.TrimSpace(line) == "" || json.Unmarshal([]byte(line), &r) != nil || r.Started.IsZero() {
			continue
		}
		r.Node, r.Phase = node, phaseOf(r)
		runs = append(runs, r)
	}
	return runs
}
