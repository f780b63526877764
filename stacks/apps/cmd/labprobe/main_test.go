package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRecordMeasuresOutagesAndRecovery(t *testing.T) {
	r := &Record{}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	seq := []struct {
		ms int
		up bool
	}{{0, true}, {100, true}, {200, false}, {300, false}, {400, true}, {500, true}, {600, false}, {700, true}, {800, false}, {900, false}}
	for _, s := range seq {
		r.Add(at(s.ms), s.up)
	}
	r.Finish(at(1000))
	if r.Checks != 10 || r.OK != 5 || r.Availability() != 50 {
		t.Errorf("checks %d ok %d availability %.1f", r.Checks, r.OK, r.Availability())
	}
	if len(r.Outages) != 2 || r.Outages[0] != 200*time.Millisecond || r.Outages[1] != 100*time.Millisecond {
		t.Errorf("outages %v", r.Outages)
	}
	if r.StillDown() != 200*time.Millisecond || r.Longest() != 200*time.Millisecond {
		t.Errorf("still down %s longest %s", r.StillDown(), r.Longest())
	}
	s := r.Summary("http://x/health")
	for _, want := range []string{"availability:    50.00%", "outages:         3", "time to recover: 150ms on average (2 recoveries)", "NOT RECOVERED:   down for the last 200ms"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestProbeAgainstAServerThatFailsAndRecovers(t *testing.T) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", 503)
		}
	}))
	defer srv.Close()
	go func() {
		time.Sleep(150 * time.Millisecond)
		down.Store(true)
		time.Sleep(200 * time.Millisecond)
		down.Store(false)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	r := probe(ctx, 20*time.Millisecond, func() (string, error) { return check(c, srv.URL) }, io.Discard)
	if len(r.Outages) != 1 || r.StillDown() != 0 {
		t.Fatalf("outages %v still down %s", r.Outages, r.StillDown())
	}
	if o := r.Outages[0]; o < 150*time.Millisecond || o > 300*time.Millisecond {
		t.Errorf("outage %s, want about 200ms", o)
	}
	if a := r.Availability(); a < 50 || a > 85 {
		t.Errorf("availability %.1f", a)
	}
	if _, err := check(c, "http://127.0.0.1:1/"); err == nil {
		t.Error("a refused connection counted as up")
	}
	if _, err := check(c, srv.URL); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("healthy server: %v", err)
	}
}
