package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Record is the history of one probe run.
type Record struct {
	Checks, OK int
	Outages    []time.Duration // finished outages, first failed check to first good one
	// ServedBy are the X-Served-By answers seen, in order of first appearance: improved-app
	// names the task that answered; memory-leak-app names none.
	ServedBy  []string
	start     time.Time
	end       time.Time
	downSince time.Time // zero while up
	lastUp    time.Time
}

type change int

const (
	same change = iota
	wentDown
	cameBack
)

// Add records one check at time t.
func (r *Record) Add(t time.Time, up bool) change {
	if r.Checks == 0 {
		r.start = t
	}
	r.Checks++
	r.end = t
	if up {
		r.OK++
		r.lastUp = t
		if !r.downSince.IsZero() {
			r.Outages = append(r.Outages, t.Sub(r.downSince))
			r.downSince = time.Time{}
			return cameBack
		}
		return same
	}
	if r.downSince.IsZero() {
		r.downSince = t
		return wentDown
	}
	return same
}

// Served records who answered a check (an X-Served-By header), once each.
func (r *Record) Served(by string) {
	if by != "" && !slices.Contains(r.ServedBy, by) {
		r.ServedBy = append(r.ServedBy, by)
	}
}

// Finish closes the run at time t.
func (r *Record) Finish(t time.Time) { r.end = t }

// StillDown is how long the target has been down at the end, or 0.
func (r *Record) StillDown() time.Duration {
	if r.downSince.IsZero() {
		return 0
	}
	return r.end.Sub(r.downSince)
}

// Availability is the share of good checks, in percent.
func (r *Record) Availability() float64 {
	if r.Checks == 0 {
		return 0
	}
	return 100 * float64(r.OK) / float64(r.Checks)
}

// Longest is the longest outage, counting one still going on.
func (r *Record) Longest() time.Duration {
	longest := r.StillDown()
	for _, o := range r.Outages {
		longest = max(longest, o)
	}
	return longest
}

// MeanRecovery is the mean of the finished outages, or 0 when none finished.
func (r *Record) MeanRecovery() time.Duration {
	if len(r.Outages) == 0 {
		return 0
	}
	var total time.Duration
	for _, o := range r.Outages {
		total += o
	}
	return total / time.Duration(len(r.Outages))
}

// Summary is the report students copy into the Phase-3 comparison.
func (r *Record) Summary(url string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nlabprobe summary for %s\n", url)
	fmt.Fprintf(&b, "  duration:        %s\n", r.end.Sub(r.start).Round(time.Millisecond))
	fmt.Fprintf(&b, "  checks:          %d (%d ok)\n", r.Checks, r.OK)
	fmt.Fprintf(&b, "  availability:    %.2f%%\n", r.Availability())
	fmt.Fprintf(&b, "  outages:         %d\n", len(r.Outages)+boolInt(r.StillDown() > 0))
	fmt.Fprintf(&b, "  longest outage:  %s\n", r.Longest().Round(time.Millisecond))
	if len(r.Outages) > 0 {
		fmt.Fprintf(&b, "  time to recover: %s on average (%d recoveries)\n", r.MeanRecovery().Round(time.Millisecond), len(r.Outages))
	}
	if d := r.StillDown(); d > 0 {
		fmt.Fprintf(&b, "  NOT RECOVERED:   down for the last %s\n", d.Round(time.Millisecond))
	}
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
