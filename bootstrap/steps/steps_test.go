package steps

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRunStopsAtTheFirstFailureAndNamesIt(t *testing.T) {
	var ran []string
	err := Run(context.Background(), "team2", []Step{
		{"first", func(context.Context) error { ran = append(ran, "first"); return nil }},
		{"join nodes", func(context.Context) error {
			ran = append(ran, "join")
			return errors.New("node team2-w1: exit code 1")
		}},
		{"never", func(context.Context) error { ran = append(ran, "never"); return nil }},
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
