package steps

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labfleet/labfleet/model/plan"
)

func TestRunStopsAtTheFirstFailureAndNamesIt(t *testing.T) {
	var ran []string
	err := Run(context.Background(), "team2", []Step{
		{Name: "first", Run: func(context.Context) error { ran = append(ran, "first"); return nil }},
		{Name: "join nodes", Run: func(context.Context) error {
			ran = append(ran, "join")
			return errors.New("node team2-w1: exit code 1")
		}},
		{Name: "never", Run: func(context.Context) error { ran = append(ran, "never"); return nil }},
	})
	if err == nil || err.Error() != `team "team2": join nodes: node team2-w1: exit code 1` {
		t.Errorf("err = %v", err)
	}
	if strings.Join(ran, ",") != "first,join" {
		t.Errorf("ran %v", ran)
	}
}

// Ctrl-C during a step that then ends well: the next step does not start.
func TestACancelledRunStartsNoFurtherStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran []string
	err := Run(ctx, "team1", []Step{
		{Name: "init swarm", Run: func(context.Context) error { ran = append(ran, "init"); cancel(); return nil }},
		{Name: "join nodes", Run: func(context.Context) error { ran = append(ran, "join"); return nil }},
	})
	if !errors.Is(err, context.Canceled) || err.Error() != `team "team1": stopped before join nodes: context canceled` {
		t.Errorf("err = %v", err)
	}
	if strings.Join(ran, ",") != "init" {
		t.Errorf("ran %v", ran)
	}
}

func TestEachRunsEverythingAndReportsEveryFailure(t *testing.T) {
	var count atomic.Int32
	err := Each([]string{"a", "b", "c", "d"}, func(s string) error {
		count.Add(1)
		if s == "b" || s == "d" {
			return errors.New("node " + s + " failed")
		}
		return nil
	})
	if count.Load() != 4 || err == nil || !strings.Contains(err.Error(), "node b failed") || !strings.Contains(err.Error(), "node d failed") {
		t.Errorf("count %d err %v", count.Load(), err)
	}
	if Each([]int{1, 2}, func(int) error { return nil }) != nil {
		t.Error("no failures, yet an error")
	}
}

func TestChangesAreRecordedInOrder(t *testing.T) {
	var c Changes
	if c.List() != nil {
		t.Error("new record is not empty")
	}
	c.Did("join %s", "w1")
	c.Did("remove %d entries", 2)
	if got := strings.Join(c.List(), "; "); got != "join w1; remove 2 entries" {
		t.Errorf("got %q", got)
	}
}

func TestAStepTimeoutBoundsThatStepAloneAndSaysSo(t *testing.T) {
	// The deadline must fire: the step waits for nothing else, so 20ms is as good as any.
	err := Run(context.Background(), "team1", []Step{
		{Name: "load lab images", Timeout: 20 * time.Millisecond, Run: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
	})
	if err == nil || !strings.Contains(err.Error(), `team "team1": load lab images: context deadline exceeded (step took longer than its 20ms limit)`) {
		t.Errorf("err = %v", err)
	}
	// The next step gets a fresh budget, not what the first one left: with limits of one
	// and two hours, a second step that inherited the first one's deadline would have at
	// most an hour, however fast or slow the machine.
	var first, second time.Time
	var secondErr error
	err = Run(context.Background(), "team1", []Step{
		{Name: "quick", Timeout: time.Hour, Run: func(ctx context.Context) error { first, _ = ctx.Deadline(); return nil }},
		{Name: "also quick", Timeout: 2 * time.Hour, Run: func(ctx context.Context) error {
			second, _ = ctx.Deadline()
			secondErr = ctx.Err()
			return nil
		}},
	})
	if err != nil || secondErr != nil {
		t.Fatalf("err %v, second step's context %v", err, secondErr)
	}
	if first.IsZero() || second.Sub(first) < 50*time.Minute {
		t.Errorf("deadlines: first step %s, second %s: want the second about an hour after the first", first, second)
	}
}

// At most two at once, and two at once for sure: every holder of a slot waits for the
// test to let it go, so the test sees the slots full without sleeping or guessing.
func TestLimitBoundsConcurrency(t *testing.T) {
	l := NewLimit(2)
	var running, peak atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Each(make([]int, 8), func(int) error {
			return l.Do(context.Background(), func() error {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				entered <- struct{}{}
				<-release
				running.Add(-1)
				return nil
			})
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no holder got a slot (running %d)", what, running.Load())
		}
	}
	// Two get in; each one let go lets exactly one more in, so two hold slots all along.
	wait("first")
	wait("second")
	for i := range 6 {
		if n := running.Load(); n != 2 {
			t.Fatalf("before release %d: %d running, want 2", i, n)
		}
		release <- struct{}{}
		wait("after a release")
	}
	release <- struct{}{}
	release <- struct{}{}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Each did not return once every holder was let go")
	}
	if peak.Load() != 2 {
		t.Errorf("peak %d, want 2", peak.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	full := NewLimit(1)
	full.slots <- struct{}{}
	if err := full.Do(ctx, func() error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting on a full limit after cancel: %v", err)
	}
}

func TestFirstManager(t *testing.T) {
	nodes := []Node{{Name: "w1", Role: plan.Worker}, {Name: "m1", Role: plan.Manager}, {Name: "m2", Role: plan.Manager}}
	if n, ok := FirstManager(nodes); !ok || n.Name != "m1" {
		t.Errorf("got %v %v", n.Name, ok)
	}
	if _, ok := FirstManager(nodes[:1]); ok {
		t.Error("a worker-only list has a manager")
	}
}

// recorder is a Reporter that keeps every message as "team|kind|msg".
type recorder struct {
	mu    sync.Mutex
	lines []string
	want  *regexp.Regexp
	heard chan struct{}
}

func (r *recorder) Info(team, msg string)   { r.add(team, "info", msg) }
func (r *recorder) Status(team, msg string) { r.add(team, "status", msg) }
func (r *recorder) add(team, kind, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := team + "|" + kind + "|" + msg
	r.lines = append(r.lines, line)
	if r.want != nil && r.want.MatchString(line) {
		close(r.heard)
		r.want = nil
	}
}

// waitFor returns a channel closed once a line matching re is recorded.
func (r *recorder) waitFor(re *regexp.Regexp) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want, r.heard = re, make(chan struct{})
	return r.heard
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// elapsed matches what Elapsed prints, whatever the time: how long a step takes is the
// scheduler's business, the form of the line is the test's.
const elapsed = `(\d+\.\ds|\d+m\d\ds)`

func TestRunReportsEachStepsStartProgressAndEnd(t *testing.T) {
	defer func(d time.Duration) { heartbeat = d }(heartbeat)
	rec := &recorder{}
	ctx := WithReporter(context.Background(), rec)

	// A step that ends within the heartbeat interval has no heartbeat: with an hour's
	// interval no timer can fire, so only a heartbeat sent at the start would show.
	heartbeat = time.Hour
	if err := Run(ctx, "team3", []Step{{Name: "check roles", Run: func(context.Context) error { return nil }}}); err != nil {
		t.Fatal(err)
	}

	// A step that runs on gets heartbeats with its parts' progress: it waits until the
	// recorder has heard one (the interval is a millisecond; the 10 s are only a bound on a
	// broken heartbeat).
	heartbeat = time.Millisecond
	beat := regexp.MustCompile(`^team3\|status\|load lab images \.\.\. ` + elapsed + `, team3-m1: streamed 120 MB, team3-w1: streamed 80 MB$`)
	heard := rec.waitFor(beat)
	err := Run(ctx, "team3", []Step{
		{Name: "load lab images", Run: func(ctx context.Context) error {
			Progress(ctx, "team3-m1", func() string { return "streamed 120 MB" })
			Progress(ctx, "team3-w1", func() string { return "streamed 80 MB" })
			select {
			case <-heard:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("no heartbeat in 10s")
			}
		}},
		{Name: "join nodes", Run: func(context.Context) error { return errors.New("exit code 1") }},
	})
	if err == nil || !strings.Contains(err.Error(), "join nodes: exit code 1") {
		t.Fatalf("err = %v, want the failed step's", err)
	}
	got := rec.all()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^team3\|status\|check roles \.\.\.$`),
		regexp.MustCompile(`(?m)^team3\|info\|check roles: done in ` + elapsed + `$`),
		regexp.MustCompile(`(?m)^team3\|status\|load lab images \.\.\.$`),
		regexp.MustCompile(`(?m)^team3\|info\|load lab images: done in ` + elapsed + `$`),
		regexp.MustCompile(`(?m)^team3\|status\|join nodes \.\.\.$`),
		regexp.MustCompile(`(?m)^team3\|info\|join nodes: FAILED after ` + elapsed + `$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("no line matching %s in:\n%s", want, got)
		}
	}
	if regexp.MustCompile(`(?m)^team3\|status\|check roles \.\.\. `).MatchString(got) {
		t.Errorf("a quick step had a heartbeat:\n%s", got)
	}
	// Every heartbeat of a step comes before its end: stop waits for the last one.
	lines := strings.Split(got, "\n")
	end := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "team3|info|load lab images: done") })
	for _, l := range lines[end+1:] {
		if strings.HasPrefix(l, "team3|status|load lab images") {
			t.Errorf("a heartbeat after the step ended: %q in\n%s", l, got)
		}
	}
}

func TestProgressOutsideAStepAndNoReporterAreHarmless(t *testing.T) {
	Progress(context.Background(), "team1-m1", func() string { t.Error("called outside a step"); return "" })
	if err := Run(context.Background(), "", []Step{{Name: "build", Run: func(context.Context) error { return errors.New("no go") }}}); err == nil || err.Error() != "build: no go" {
		t.Errorf("cohort-wide step error = %v", err)
	}
}

func TestElapsedReadsLikeAPersonWouldSayIt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond: "0.4s", 12340 * time.Millisecond: "12.3s", 125 * time.Second: "2m05s", time.Hour + 500*time.Millisecond: "60m01s",
	} {
		if got := Elapsed(d); got != want {
			t.Errorf("Elapsed(%s) = %s, want %s", d, got, want)
		}
	}
}
