package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestResponsesNameTheServerAndHealthDrains(t *testing.T) {
	a := &app{hostname: "web.2.abc", task: "web.2"}
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	if code, body := get(t, srv.URL+"/"); code != 200 || !strings.Contains(body, "served by web.2.abc (task web.2)") {
		t.Errorf("%d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/health"); code != 200 {
		t.Errorf("health %d", code)
	}
	a.draining.Store(true)
	if code, _ := get(t, srv.URL+"/health"); code != 503 {
		t.Errorf("health while draining %d, want 503", code)
	}
}

func TestProxyRoundRobinsAndSkipsDeadTasks(t *testing.T) {
	var backends []*httptest.Server
	for _, name := range []string{"task-a", "task-b"} {
		a := &app{hostname: name, task: name}
		backends = append(backends, httptest.NewServer(a.routes()))
	}
	defer backends[1].Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(backends[0].URL, "http://"))
	// Every backend listens on 127.0.0.1 with its own port; resolve "tasks.web" to
	// distinct loopback-backed addresses by rewriting the port per address.
	p, err := newProxy("tasks.web:" + port)
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	for i, b := range backends {
		addrs[string(rune('a'+i))] = strings.TrimPrefix(b.URL, "http://")
	}
	p.tasks.lookup = func(string) ([]string, error) { return []string{"127.0.0.1", "127.0.0.2"}, nil }
	p.client.Transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		target := addrs["a"]
		if host == "127.0.0.2" {
			target = addrs["b"]
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}}
	edge := httptest.NewServer(p)
	defer edge.Close()
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		_, body := get(t, edge.URL+"/")
		for _, name := range []string{"task-a", "task-b"} {
			if strings.Contains(body, name) {
				seen[name]++
			}
		}
	}
	if seen["task-a"] != 5 || seen["task-b"] != 5 {
		t.Errorf("spread = %v, want 5/5", seen)
	}
	backends[0].Close() // a task dies
	for i := 0; i < 4; i++ {
		if code, body := get(t, edge.URL+"/"); code != 200 || !strings.Contains(body, "task-b") {
			t.Errorf("after task-a died: %d %q", code, body)
		}
	}
	backends[1].Close()
	if code, body := get(t, edge.URL+"/"); code != 502 || !strings.Contains(body, "every task of tasks.web failed") {
		t.Errorf("with no task: %d %q", code, body)
	}
}

// Under load the proxy asks DNS about once per taskListAge, not once per request, and a
// refresh never holds a request up.
func TestTaskListRefreshesInTheBackground(t *testing.T) {
	now := time.Unix(0, 0)
	answers := make(chan []string, 1)
	answers <- []string{"10.0.0.1", "10.0.0.2"}
	var lookups atomic.Int32
	l := &taskList{host: "tasks.web", now: func() time.Time { return now }, lookup: func(host string) ([]string, error) {
		lookups.Add(1)
		if host != "tasks.web" {
			t.Errorf("looked up %q", host)
		}
		return <-answers, nil
	}}
	get := func() []string {
		t.Helper()
		addrs, err := l.get()
		if err != nil {
			t.Fatal(err)
		}
		return addrs
	}
	for i := 0; i < 100; i++ {
		if got := get(); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
			t.Fatalf("request %d: %v", i, got)
		}
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for 100 requests within %s", n, taskListAge)
	}
	// Stale: the next requests start one refresh and, while DNS has not answered, go on
	// with the list they have.
	now = now.Add(taskListAge)
	for i := 0; i < 10; i++ {
		if got := get(); len(got) != 2 {
			t.Fatalf("during the refresh: %v", got)
		}
	}
	answers <- []string{"10.0.0.2"} // a task is gone
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(get(), []string{"10.0.0.2"}) {
		if time.Now().After(deadline) {
			t.Fatal("the refreshed list never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	if n := lookups.Load(); n != 2 {
		t.Errorf("%d lookups, want 2: one refresh at a time", n)
	}
}

func TestHealthcheckMode(t *testing.T) {
	a := &app{hostname: "h"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.routes()}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if code := healthcheck(port); code != 0 {
		t.Errorf("healthy app: exit %d", code)
	}
	a.draining.Store(true)
	if code := healthcheck(port); code != 1 {
		t.Errorf("draining app: exit %d", code)
	}
}
