package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/status"
)

// The instructor's live page (make dashboard): every team's row, refreshed by the page every
// few seconds from what one background check last found. It only reads: GET and HEAD of
// the page and of its data, nothing else; no key, token or kubeconfig is in the data.

//go:embed dashboard.html
var dashboardPage []byte

// dashboard holds the last check, which the page polls.
type dashboard struct {
	mu      sync.Mutex
	view    []byte // JSON of the last status.View; nil before the first check ends
	refresh time.Duration
	// anyHost serves requests that name any host; otherwise only a loopback name or address,
	// so that a web page elsewhere cannot read the class through DNS rebinding.
	anyHost bool
	// progress is each team's lab evidence so far: once seen, a step stays seen, though the
	// daemon's events and swarm's task history that showed it move on.
	progress map[string]status.Progress
}

// serve checks the cohort every refresh (each check starts when the last one ended, so a
// slow class never piles checks up) and serves the page on l until ctx ends.
func serve(ctx context.Context, l net.Listener, refresh time.Duration, anyHost bool, check func(context.Context) status.Report, stdout io.Writer) error {
	d := &dashboard{refresh: refresh, anyHost: anyHost, progress: map[string]status.Progress{}}
	go func() {
		for {
			r := check(ctx)
			if ctx.Err() != nil {
				return
			}
			for i, t := range r.Teams {
				r.Teams[i].Progress = t.Progress.Merge(d.progress[t.Team])
				d.progress[t.Team] = r.Teams[i].Progress
			}
			d.publish(status.ViewOf(r, time.Now()))
			select {
			case <-ctx.Done():
				return
			case <-time.After(refresh):
			}
		}
	}()
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(stdout, "dashboard of every team on http://%s/ (checked every %s; Ctrl-C stops it)\n", l.Addr(), refresh)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (d *dashboard) publish(v status.View) {
	b, err := json.Marshal(struct {
		status.View
		RefreshMS int64 `json:"refreshMs"`
	}{v, d.refresh.Milliseconds()})
	if err != nil {
		return
	}
	d.mu.Lock()
	d.view = b
	d.mu.Unlock()
}

func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !d.anyHost && !loopbackHost(r.Host) {
		http.Error(w, "the dashboard answers only to a loopback address (127.0.0.1, localhost, [::1])", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard only reads", http.StatusMethodNotAllowed)
		return
	}
	// The page loads nothing from anywhere, and nothing may frame it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(dashboardPage)
	case "/status.json":
		d.mu.Lock()
		view := d.view
		d.mu.Unlock()
		if view == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the first check of the cohort is still running", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(view)
	default:
		http.NotFound(w, r)
	}
}

// loopbackHost is whether a request's Host names this machine's loopback.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// listenAddr checks the address the page is served on: loopback unless another one is
// asked for by name, since the page shows every node of the class.
func listenAddr(addr string, anyAddress bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-serve %q: %v (e.g. 127.0.0.1:8088)", addr, err)
	}
	if loopbackHost(host) || anyAddress {
		return nil
	}
	return fmt.Errorf("-serve %s is not a loopback address: the page shows every node of the class to whoever reaches it; add -serve-anywhere to serve it there anyway (make dashboard DASHBOARD_ADDR=%s DASHBOARD_ANYWHERE=1)", addr, strings.TrimSpace(addr))
}
