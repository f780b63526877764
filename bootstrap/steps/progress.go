package steps

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Reporter hears how a run goes while it goes, so a 20-second and a 10-minute `pulumi up`
// do not look the same. Info lines are kept (a step finished, a note, the summary); a
// Status line says what a team is doing right now and the next one replaces it (Pulumi
// shows it on the team's row while it runs). team is "" for the cohort as a whole.
type Reporter interface {
	Info(team, msg string)
	Status(team, msg string)
}

// Lines is a Reporter that writes every message, kept or not, as one line: the form a
// benchmark's output and a test's log use.
type Lines func(line string)

// Info writes msg as a line prefixed with its team.
func (l Lines) Info(team, msg string) { l(prefixed(team, msg)) }

// Status writes msg like Info: a log has no row to replace.
func (l Lines) Status(team, msg string) { l(prefixed(team, msg)) }

func prefixed(team, msg string) string {
	if team == "" {
		return msg
	}
	return "team " + team + ": " + msg
}

// Quiet is a Reporter that drops everything.
type Quiet struct{}

// Info drops msg.
func (Quiet) Info(string, string) {}

// Status drops msg.
func (Quiet) Status(string, string) {}

type reporterKey struct{}

// WithReporter returns ctx carrying r, which Run reports every step to. A context carries
// it so that every convergence (swarm, lab, kind) reports without threading it through.
func WithReporter(ctx context.Context, r Reporter) context.Context {
	return context.WithValue(ctx, reporterKey{}, r)
}

// ReporterFrom returns the Reporter ctx carries, or Quiet.
func ReporterFrom(ctx context.Context) Reporter {
	if r, ok := ctx.Value(reporterKey{}).(Reporter); ok {
		return r
	}
	return Quiet{}
}

// heartbeat is how often a step that is still running says so: image streams and
// `kind create` can take minutes.
var heartbeat = 10 * time.Second

// stepProgress holds what the parts of a running step (a stream into each node) say about
// how far they are, asked for at each heartbeat.
type stepProgress struct {
	mu    sync.Mutex
	keys  []string
	parts map[string]func() string
}

type progressKey struct{}

// Progress lets a part of a running step (key: e.g. the node a stream goes to) say how far
// it is: the step's heartbeats call report and show its answer after key. Calling it again
// with the same key replaces report. Outside a step it does nothing.
func Progress(ctx context.Context, key string, report func() string) {
	p, ok := ctx.Value(progressKey{}).(*stepProgress)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.parts[key]; !seen {
		p.keys = append(p.keys, key)
	}
	p.parts[key] = report
}

// String is every part's progress, in the order the parts first reported.
func (p *stepProgress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, k := range p.keys {
		out = append(out, k+": "+p.parts[k]())
	}
	return strings.Join(out, ", ")
}

// reportStep runs s and reports it to ctx's Reporter: its start, a heartbeat while it
// runs, and its end with the time it took.
func reportStep(ctx context.Context, team string, s Step) error {
	r := ReporterFrom(ctx)
	r.Status(team, s.Name+" ...")
	progress := &stepProgress{parts: map[string]func() string{}}
	ctx = context.WithValue(ctx, progressKey{}, progress)
	start := time.Now()
	stop := Every(heartbeat, func() {
		msg := fmt.Sprintf("%s ... %s", s.Name, Elapsed(time.Since(start)))
		if detail := progress.String(); detail != "" {
			msg += ", " + detail
		}
		r.Status(team, msg)
	})
	err := runStep(ctx, s)
	stop()
	if err != nil {
		r.Info(team, fmt.Sprintf("%s: FAILED after %s", s.Name, Elapsed(time.Since(start))))
	} else {
		r.Info(team, fmt.Sprintf("%s: done in %s", s.Name, Elapsed(time.Since(start))))
	}
	return err
}

// Elapsed rounds d for people: 0.4s, 12.3s, 2m05s.
func Elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// Every calls fn every d, in its own goroutine, until the returned stop is called; stop
// returns once fn has run for the last time.
func Every(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fn()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
