package steps

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A step's limit is sized for a container; on nodes that run six times slower (a VM guest
// under TCG) the same step gets six times as long.
func TestAStepsLimitScalesWithThePace(t *testing.T) {
	for _, pace := range []Pace{0, 1, 6} {
		var left time.Duration
		step := Step{Name: "install labprobe", Timeout: time.Minute, Run: func(ctx context.Context) error {
			deadline, ok := ctx.Deadline()
			if !ok {
				t.Fatal("the step has no deadline")
			}
			left = time.Until(deadline)
			return nil
		}}
		ctx := context.Background()
		if pace != 0 {
			ctx = WithPace(ctx, pace)
		}
		if err := Run(ctx, "team1", []Step{step}); err != nil {
			t.Fatal(err)
		}
		want := time.Duration(max(float64(pace), 1)) * time.Minute
		if left > want || left < want-10*time.Second {
			t.Errorf("pace %v: the step's deadline is %s away, want about %s", pace, left, want)
		}
	}
}

func TestAPollsTimeoutScalesWithThePaceAndSaysTheScaledLimit(t *testing.T) {
	ctx := WithPace(context.Background(), 3)
	err := Poll(ctx, "the day2 stack", 10*time.Millisecond, time.Millisecond, func(context.Context) (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "not done after 30ms") {
		t.Fatalf("err = %v, want the 10ms timeout scaled to 30ms", err)
	}
}

func TestAStepThatRunsOutOfItsScaledLimitSaysWhichLimit(t *testing.T) {
	ctx := WithPace(context.Background(), 2)
	err := Run(ctx, "team1", []Step{{Name: "wait", Timeout: 5 * time.Millisecond, Run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}})
	if err == nil || !strings.Contains(err.Error(), "its 10ms limit") {
		t.Fatalf("err = %v, want the step's limit at pace 2 (10ms)", err)
	}
}
