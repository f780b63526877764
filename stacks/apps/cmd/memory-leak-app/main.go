// memory-leak-app is the Day-2 "broken" app: every request to / keeps LEAK_KB kilobytes
// (default 20) forever. Each `ab -n 10000 -c 100` run adds about 200 MB, so in a 512 MB
// container students watch `docker stats` climb over two or three runs; then the garbage
// collector fights for the last megabytes and the kernel kills the app: it stops answering,
// which is what Phase 1 of the lab is about.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/labfleet/labfleet/stacks/apps/internal/memlimit"
)

type leaker struct {
	mu       sync.Mutex
	held     [][]byte
	heldSize int64
	requests int64
	perReq   int
	hostname string
	started  time.Time
}

func (l *leaker) leak() (requests, held int64) {
	chunk := make([]byte, l.perReq)
	for i := range chunk { // touch every page, so it really counts against the limit
		chunk[i] = byte(i)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = append(l.held, chunk)
	l.heldSize += int64(len(chunk))
	l.requests++
	return l.requests, l.heldSize
}

func (l *leaker) stats() map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return map[string]any{
		"app":           "memory-leak-app",
		"hostname":      l.hostname,
		"requests":      l.requests,
		"heldBytes":     l.heldSize,
		"heldMB":        l.heldSize >> 20,
		"leakPerReqKB":  l.perReq >> 10,
		"limitBytes":    memlimit.Bytes(),
		"uptimeSeconds": int(time.Since(l.started).Seconds()),
	}
}

func (l *leaker) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, held := l.leak()
		fmt.Fprintf(w, "memory-leak-app on %s: request %d, holding %d MB\n", l.hostname, n, held>>20)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(l.stats())
	})
	return mux
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func main() {
	port := flag.Int("port", envInt("PORT", 3000), "listen port")
	leakKB := flag.Int("leak-kb", envInt("LEAK_KB", 20), "kilobytes kept per request to /")
	flag.Parse()
	host, _ := os.Hostname()
	if limit := memlimit.Bytes(); limit > 0 {
		// Let the GC work hard near the limit: the app gets slow before it dies, as a real
		// leaking service does.
		debug.SetMemoryLimit(limit)
	}
	l := &leaker{perReq: *leakKB << 10, hostname: host, started: time.Now()}
	log.Printf("memory-leak-app listening on :%d, leaking %d KB per request, memory limit %d MB", *port, *leakKB, memlimit.Bytes()>>20)
	log.Fatal(http.ListenAndServe(fmt.Sprintf(":%d", *port), l.routes()))
}
