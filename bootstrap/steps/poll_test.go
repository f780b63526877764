package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPollStopsWhenDone(t *testing.T) {
	calls := 0
	// The timeout is never reached: the third check is done.
	err := Poll(context.Background(), "wait", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
		calls++
		return calls == 3, nil
	})
	if err != nil || calls != 3 {
		t.Errorf("calls %d err %v", calls, err)
	}
}

func TestPollReturnsTheErrorOfTheLastCheckWhenTimeRunsOut(t *testing.T) {
	err := Poll(context.Background(), "wait for dockerd", 20*time.Millisecond, time.Millisecond, func(context.Context) (bool, error) {
		return false, errors.New("connection refused")
	})
	if err == nil || !strings.Contains(err.Error(), "wait for dockerd: not done after 20ms: connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestPollAStopCheckEndsAtOnceWithItsError(t *testing.T) {
	err := Poll(context.Background(), "wait", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
		return true, errors.New("swarm is locked")
	})
	if err == nil || err.Error() != "swarm is locked" {
		t.Errorf("err = %v", err)
	}
}

// A cancelled run (Ctrl-C) must not sleep out a long poll interval.
func TestPollReturnsPromptlyOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := Poll(ctx, "wait", time.Hour, time.Hour, func(context.Context) (bool, error) { return false, nil })
	if took := time.Since(start); took > 2*time.Second || !errors.Is(err, context.Canceled) {
		t.Errorf("took %s, err %v", took, err)
	}
}
