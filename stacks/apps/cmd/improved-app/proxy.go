package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
	lookup func(host string) ([]string, error)
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
			Timeout:   5 * time.Second,
			Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxIdleConnsPerHost: 16},
		},
		lookup: net.LookupHost,
	}, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addrs, err := p.lookup(p.host)
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
