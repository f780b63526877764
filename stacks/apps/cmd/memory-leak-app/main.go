// memory-leak-app is the Day-2 "broken" app. It keeps an access log of every request to /
// in memory and never rotates it (the leak), and counts each client's earlier visits by
// parsing that whole log (the slowdown). Each entry is sized from the container's memory
// limit so that the log fills the limit after LEAK_FILL_REQUESTS requests (default 8000):
// during the one `ab -n 10000 -c 100` the course asks for, the app gets slower and slower,
// then the kernel OOM-kills it near the end of the run, whatever `--memory` the student chose.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/stacks/apps/internal/memlimit"
	"github.com/labfleet/labfleet/stacks/apps/internal/setting"
)

// defaultFillRequests is how many requests fill the memory limit: 80% of the course's
// 10,000, so the run fails near its end. The runtime's own memory (a few MB) makes the
// kill come slightly earlier, more so under small limits.
const defaultFillRequests = 8000

// referenceLimit sizes the leak in a container without a memory limit, as if it had the
// course's 512 MB; sizing by the host's memory could take a whole shared machine down.
const referenceLimit = 512 << 20

// runtimePage is the Go runtime's page: an allocation over 32 KB takes whole pages, so an
// entry of whole pages makes the bytes the app reports the bytes it really holds.
const runtimePage = 8 << 10

// entrySize is the memory one request keeps: the limit (or referenceLimit without one)
// spread over fillRequests requests, to the nearest whole runtime page.
func entrySize(limit int64, fillRequests int) int {
	if limit <= 0 {
		limit = referenceLimit
	}
	pages := (limit/int64(fillRequests) + runtimePage/2) / runtimePage
	return int(max(pages, 1) * runtimePage)
}

// history is the leak: an in-memory access log that is never rotated. Every request to /
// adds an entry: its log line, repeated until the entry has its full size, so every page
// is written and counts against the limit.
//
// The slowdown is real work, not a sleep: to count a client's earlier visits, the app
// parses the log line of every entry held (an unbounded log with a linear lookup), under
// the log's lock. A request therefore costs time in proportion to the entries held, and the
// course's 100 concurrent clients queue behind each other's scans, so response times climb
// from milliseconds to a large fraction of a second as memory fills, at the same pace on
// any number of cores. Near the limit the garbage collector, told the limit, runs ever more
// often on the parsing's garbage and adds its own pauses, until the kernel kills the app.
type history struct {
	mu        sync.Mutex
	entries   [][]byte
	heldBytes int64
}

// record logs r in an entry of size bytes and returns the request's number, the client's
// visits before it and the bytes held after it.
func (h *history) record(r *http.Request, size int) (request, visits int, held int64) {
	client := clientAddr(r)
	line := accessLogLine(client, r, time.Now())
	entry := make([]byte, max(size, len(line)))
	copy(entry, line)
	for n := len(line); n < len(entry); n *= 2 { // fill it all: fresh pages cost nothing until written
		copy(entry[n:], entry[:n])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.entries {
		if fields := strings.Fields(string(e[:bytes.IndexByte(e, '\n')])); len(fields) > 0 && fields[0] == client {
			visits++
		}
	}
	h.entries = append(h.entries, entry)
	h.heldBytes += int64(len(entry))
	return len(h.entries), visits, h.heldBytes
}

// accessLogLine is r's line in the Combined Log Format of Apache and nginx.
func accessLogLine(client string, r *http.Request, at time.Time) string {
	return fmt.Sprintf("%s - - [%s] %q 200 - %q %q\n", client, at.Format("02/Jan/2006:15:04:05 -0700"),
		r.Method+" "+r.URL.RequestURI()+" "+r.Proto, r.Referer(), r.UserAgent())
}

func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (h *history) size() (requests int, held int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries), h.heldBytes
}

type app struct {
	history
	entryBytes   int
	fillRequests int
	limit        int64
	hostname     string
	started      time.Time
}

func (a *app) stats() map[string]any {
	requests, held := a.size()
	return map[string]any{
		"app":           "memory-leak-app",
		"hostname":      a.hostname,
		"requests":      requests,
		"heldBytes":     held,
		"heldMB":        held >> 20,
		"leakPerReqKB":  a.entryBytes >> 10,
		"fillRequests":  a.fillRequests,
		"limitBytes":    a.limit,
		"uptimeSeconds": int(time.Since(a.started).Seconds()),
	}
}

func (a *app) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, visits, held := a.record(r, a.entryBytes)
		fmt.Fprintf(w, "memory-leak-app on %s: request %d, your visit %d, holding %d MB\n", a.hostname, n, visits+1, held>>20)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a.stats())
	})
	return mux
}

// maxFillRequests bounds LEAK_FILL_REQUESTS: past a million requests an entry is the
// one-page minimum under any limit up to 8 GB, so a larger value would change nothing.
const maxFillRequests = 1_000_000

// settings reads the listen port and the requests that fill the limit from args and the
// environment (PORT, LEAK_FILL_REQUESTS; the flags win). A value set but out of range is an
// error naming the setting and its range: a typo must not quietly give the default.
func settings(args []string) (port, fill int, err error) {
	if port, err = setting.IntEnv("PORT", 3000, 1, 65535); err != nil {
		return 0, 0, err
	}
	if fill, err = setting.IntEnv("LEAK_FILL_REQUESTS", defaultFillRequests, 1, maxFillRequests); err != nil {
		return 0, 0, err
	}
	flags := flag.NewFlagSet("memory-leak-app", flag.ExitOnError) // as flag.Parse does
	flags.IntVar(&port, "port", port, "listen port (env PORT)")
	flags.IntVar(&fill, "fill-requests", fill, "requests to / after which the leak has taken the whole memory limit (env LEAK_FILL_REQUESTS)")
	flags.Parse(args)
	return port, fill, setting.InRange("-fill-requests", fill, 1, maxFillRequests)
}

func main() {
	port, fill, err := settings(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	host, _ := os.Hostname()
	limit := memlimit.Bytes()
	if limit > 0 {
		// The runtime collects hard near the limit, as a well-configured Go service would:
		// the app slows down before it dies instead of dying at full speed.
		debug.SetMemoryLimit(limit)
	}
	a := &app{entryBytes: entrySize(limit, fill), fillRequests: fill, limit: limit, hostname: host, started: time.Now()}
	sizedBy := fmt.Sprintf("its %d MB memory limit", limit>>20)
	if limit == 0 {
		sizedBy = fmt.Sprintf("no memory limit (sized as for %d MB)", referenceLimit>>20)
	}
	log.Printf("memory-leak-app listening on :%d; %s; keeping %d KB per request, full after %d requests",
		port, sizedBy, a.entryBytes>>10, fill)
	log.Fatal(http.ListenAndServe(fmt.Sprintf(":%d", port), a.routes()))
}
