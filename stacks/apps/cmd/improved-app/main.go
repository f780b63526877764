// improved-app is the Day-2 "fixed" app: no leak, a real health endpoint, graceful
// shutdown on SIGTERM (it reports unhealthy, finishes in-flight requests, then exits), and
// every response names the container that served it, so swarm load balancing is visible.
//
// The same binary has two helper modes:
//   - `-healthcheck` probes /health; the image's HEALTHCHECK runs it (scratch has no curl).
//   - `-proxy tasks.web:3000` forwards to every task behind a DNS name in turn, skipping
//     dead ones. labfleet runs it as a global "edge" service on hosts without IPVS, where
//     the swarm routing mesh cannot work.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labfleet/labfleet/stacks/apps/internal/setting"
)

type app struct {
	hostname string
	task     string
	draining atomic.Bool
	requests atomic.Int64
}

func (a *app) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := a.requests.Add(1)
		w.Header().Set("X-Served-By", a.hostname)
		fmt.Fprintf(w, "improved-app served by %s (task %s), request %d\n", a.hostname, a.task, n)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", a.hostname)
		if a.draining.Load() {
			http.Error(w, `{"status":"draining"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","host":%q}`+"\n", a.hostname)
	})
	return mux
}

// serve runs handler until SIGTERM/SIGINT, then drains for up to grace.
func serve(addr string, handler http.Handler, onStop func(), grace time.Duration) error {
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case sig := <-stop:
		log.Printf("%s: draining for up to %s", sig, grace)
		onStop()
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		return srv.Shutdown(ctx)
	}
}

func healthcheck(port int) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}

func main() {
	defaultPort, err := setting.IntEnv("PORT", 3000, 1, 65535)
	if err != nil {
		log.Fatal(err)
	}
	port := flag.Int("port", defaultPort, "listen port (env PORT)")
	check := flag.Bool("healthcheck", false, "probe this app's /health and exit 0 if healthy")
	proxyTo := flag.String("proxy", "", "run as an edge proxy to every address of this host:port (e.g. tasks.web:3000)")
	flag.Parse()
	if *check {
		os.Exit(healthcheck(*port))
	}
	addr := fmt.Sprintf(":%d", *port)
	if *proxyTo != "" {
		p, err := newProxy(*proxyTo)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("edge proxy on %s to every task of %s", addr, *proxyTo)
		if err := serve(addr, p, func() {}, 5*time.Second); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
		return
	}
	host, _ := os.Hostname()
	a := &app{hostname: host, task: envString("TASK_NAME", host)}
	log.Printf("improved-app on %s listening on %s", host, addr)
	if err := serve(addr, a.routes(), func() { a.draining.Store(true) }, 10*time.Second); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Print("stopped cleanly")
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
