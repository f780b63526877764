package steps

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labfleet/labfleet/infra/plan"
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
	var second error
	err := Run(context.Background(), "team1", []Step{
		{Name: "load lab images", Timeout: 20 * time.Millisecond, Run: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
	})
	if err == nil || !strings.Contains(err.Error(), `team "team1": load lab images: context deadline exceeded (step took longer than its 20ms limit)`) {
		t.Errorf("err = %v", err)
	}
	// The next step gets a fresh budget, not what the first one left.
	err = Run(context.Background(), "team1", []Step{
		{Name: "quick", Timeout: 20 * time.Millisecond, Run: func(ctx context.Context) error { time.Sleep(10 * time.Millisecond); return nil }},
		{Name: "also quick", Timeout: 20 * time.Millisecond, Run: func(ctx context.Context) error { time.Sleep(10 * time.Millisecond); second = ctx.Err(); return nil }},
	})
	if err != nil || second != nil {
		t.Errorf("err %v, second step's context %v", err, second)
	}
}

func TestLimitBoundsConcurrency(t *testing.T) {
	l := NewLimit(2)
	var running, peak atomic.Int32
	err := Each(make([]int, 8), func(int) error {
		return l.Do(context.Background(), func() error {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			return nil
		})
	})
	if err != nil || peak.Load() != 2 {
		t.Errorf("peak %d err %v", peak.Load(), err)
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
}

func (r *recorder) Info(team, msg string)   { r.add(team, "info", msg) }
func (r *recorder) Status(team, msg string) { r.add(team, "status", msg) }
func (r *recorder) add(team, kind, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, team+"|"+kind+"|"+msg)
}
func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func TestRunReportsEachStepsStartProgressAndEnd(t *testing.T) {
	defer func(d time.Duration) { heartbeat = d }(heartbeat)
	heartbeat = 20 * time.Millisecond
	rec := &recorder{}
	ctx := WithReporter(context.Background(), rec)
	err := Run(ctx, "team3", []Step{
		{Name: "check roles", Run: func(context.Context) error { return nil }},
		{Name: "load lab images", Run: func(ctx context.Context) error {
			Progress(ctx, "team3-m1", func() string { return "streamed 120 MB" })
			Progress(ctx, "team3-w1", func() string { return "streamed 80 MB" })
			time.Sleep(70 * time.Millisecond)
			return nil
		}},
		{Name: "join nodes", Run: func(context.Context) error { return errors.New("exit code 1") }},
	})
	if err == nil {
		t.Fatal("no error from a failed step")
	}
	got := rec.all()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^team3\|status\|check roles \.\.\.$`),
		regexp.MustCompile(`(?m)^team3\|info\|check roles: done in 0\.\ds$`),
		regexp.MustCompile(`(?m)^team3\|status\|load lab images \.\.\. 0\.\ds, team3-m1: streamed 120 MB, team3-w1: streamed 80 MB$`),
		regexp.MustCompile(`(?m)^team3\|info\|load lab images: done in 0\.\ds$`),
		regexp.MustCompile(`(?m)^team3\|info\|join nodes: FAILED after 0\.\ds$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("no line matching %s in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "check roles ... 0") {
		t.Errorf("a quick step had a heartbeat:\n%s", got)
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
