package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/status"
)

func TestTheDashboardListensOnLoopbackUnlessAskedOtherwise(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8088": true, "localhost:8088": true, "[::1]:8088": true, "0.0.0.0:8088": false, "10.1.2.3:8088": false} {
		if err := listenAddr(addr, false); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		} else if err != nil && !strings.Contains(err.Error(), "-serve-anywhere") {
			t.Errorf("%s: the refusal does not say how to ask: %v", addr, err)
		}
	}
	if err := listenAddr("0.0.0.0:8088", true); err != nil {
		t.Errorf("asked for every address: %v", err)
	}
	if err := listenAddr("8088", false); err == nil {
		t.Error("an address without a host passed")
	}
}

func TestTheDashboardOnlyReads(t *testing.T) {
	d := &dashboard{refresh: time.Second}
	get := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, nil)
		r.Host = "127.0.0.1:8088"
		d.ServeHTTP(w, r)
		return w
	}
	if w := get("GET", "/status.json"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("before the first check: %d", w.Code)
	}
	d.publish(status.ViewOf(status.Report{Cohort: "spring", Teams: []status.TeamStatus{{Team: "team1", Ready: true}}}, time.Now()))
	w := get("GET", "/status.json")
	var v struct {
		Cohort    string `json:"cohort"`
		RefreshMS int64  `json:"refreshMs"`
		Teams     []struct {
			Team string `json:"team"`
		} `json:"teams"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != 200 || v.Cohort != "spring" || v.RefreshMS != 1000 || len(v.Teams) != 1 {
		t.Errorf("status.json: %d %v %s", w.Code, err, w.Body)
	}
	page := get("GET", "/")
	if page.Code != 200 || !strings.Contains(page.Body.String(), `fetch("status.json"`) {
		t.Errorf("page: %d", page.Code)
	}
	// Self-contained: the page names no other place to load anything from.
	for _, never := range []string{"http://", "https://", " src=", "<link", "innerHTML"} {
		if strings.Contains(page.Body.String(), never) {
			t.Errorf("the page holds %q", never)
		}
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if w := get("HEAD", "/status.json"); w.Code != 200 {
		t.Errorf("HEAD: %d", w.Code)
	}
	// A page elsewhere that rebinds its own name to 127.0.0.1 still sends its name.
	w = httptest.NewRecorder()
	d.ServeHTTP(w, httptest.NewRequest("GET", "http://attacker.example:8088/status.json", nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("a request for another host name: %d", w.Code)
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		if w := get(method, "/status.json"); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", method, w.Code)
		}
	}
	if w := get("GET", "/debug"); w.Code != http.StatusNotFound {
		t.Errorf("another path: %d", w.Code)
	}
}

// The page's data is the last check's, and each check follows the last; lab evidence seen
// once stays seen.
func TestTheDashboardServesTheLatestCheckUntilStopped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	checks := make(chan int, 100)
	n := 0
	check := func(context.Context) status.Report {
		n++
		checks <- n
		team := status.TeamStatus{Team: "team1", Ready: n > 1}
		if n == 1 { // evidence the next checks no longer find (the daemon's events moved on)
			team.Progress.Phase1 = status.Evidence{Seen: true, What: "vulnerable-app OOM-killed on team1-w1"}
		}
		return status.Report{Cohort: "spring", Teams: []status.TeamStatus{team}}
	}
	done := make(chan error)
	go func() { done <- serve(ctx, l, 10*time.Millisecond, false, check, io.Discard) }()
	url := "http://" + l.Addr().String() + "/status.json"
	deadline := time.Now().Add(10 * time.Second)
	for {
		<-checks
		resp, err := http.Get(url)
		if err == nil {
			var v status.View
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if v.Ready == 1 { // a later check's report replaced the first's
				if p1 := v.Teams[0].Phase1; p1.State != status.CellSeen || p1.Text != "vulnerable-app OOM-killed on team1-w1" {
					t.Errorf("phase 1, seen in the first check, is no longer shown: %+v", p1)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served a check after the first: %v", err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop with its context")
	}
}
