package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// proxy spreads requests over every address a name resolves to (swarm's tasks.<service>
// DNS name lists one per running task) and moves on to the next address when one fails,
// which is what the routing mesh does with IPVS.
type proxy struct {
	host   string
	port   string
	next   atomic.Uint64
	client *http.Client
	tasks  *taskList
}

// taskListAge is how long the proxy uses one answer of swarm's DNS. A lookup per request
// floods Docker's embedded DNS under the course's `ab -c 200`: it drops queries, and the
// resolver retries only after 5 s, so requests stall. Refreshed every second, the list
// still follows scaling within a second, and a task that is gone is skipped meanwhile.
const taskListAge = time.Second

// taskList is the cached answer for the tasks' DNS name. When it is stale, one request
// starts a refresh in the background and every request goes on with the list it has, so no
// request waits for DNS except the very first.
type taskList struct {
	host   string
	lookup func(host string) ([]string, error)
	now    func() time.Time

	mu         sync.Mutex
	addrs      []string
	fetched    time.Time
	refreshing bool
}

func (l *taskList) get() ([]string, error) {
	l.mu.Lock()
	addrs := l.addrs
	if addrs != nil && l.now().Sub(l.fetched) >= taskListAge && !l.refreshing {
		l.refreshing = true
		go l.refresh()
	}
	l.mu.Unlock()
	if addrs != nil {
		return addrs, nil
	}
	return l.refresh()
}

// refresh looks the tasks up again. A failed lookup keeps the last list (the next request
// tries again): a name that briefly does not resolve is no reason to stop answering.
func (l *taskList) refresh() ([]string, error) {
	addrs, err := l.lookup(l.host)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refreshing = false
	if err == nil && len(addrs) > 0 {
		l.addrs, l.fetched = addrs, l.now()
	}
	return addrs, err
}

const maxProxiedBody = 1 << 20

func newProxy(target string) (*proxy, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("-proxy %q: want host:port, e.g. tasks.web:3000", target)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("-proxy %q: bad port", target)
	}
	return &proxy{
		host: host, port: port,
		client: &http.Client{
			Timeout: 5 * time.Second,
			// A task on the overlay accepts within milliseconds; one that is gone never
			// does, and the next one must still answer within a client's patience (1 s).
			Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext, MaxIdleConnsPerHost: 16},
		},
		tasks: &taskList{host: host, lookup: net.LookupHost, now: time.Now},
	}, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addrs, err := p.tasks.get()
	if err != nil || len(addrs) == 0 {
		http.Error(w, fmt.Sprintf("edge: no task answers for %s: %v", p.host, err), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxiedBody))
	if err != nil {
		http.Error(w, "edge: reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	start := p.next.Add(1)
	var lastErr error
	for i := range addrs {
		addr := addrs[(int(start)+i)%len(addrs)]
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+net.JoinHostPort(addr, p.port)+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := p.client.Do(out)
		if err != nil {
			lastErr = err
			continue // a task that just died: try the next one
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, fmt.Sprintf("edge: every task of %s failed, last: %v", p.host, lastErr), http.StatusBadGateway)
}
