// labprobe measures what Phase 3 of the Day-2 lab compares: it polls a URL and reports
// availability, every outage, the longest one and how long recovery took. Run it in a
// second terminal while breaking the single container (Phase 1) or killing swarm tasks
// (Phase 2), then stop it with Ctrl-C for the summary. Each run's summary is also kept on
// the node (~/.labprobe/runs.jsonl), so the instructor collects the class's runs side by
// side (make results).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "http://localhost:8080/health", "URL to poll; any 2xx answer counts as up")
	interval := flag.Duration("interval", 250*time.Millisecond, "time between checks")
	timeout := flag.Duration("timeout", time.Second, "a check slower than this counts as down")
	duration := flag.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	quiet := flag.Bool("quiet", false, "print only the summary")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var log io.Writer = os.Stdout
	if *quiet {
		log = io.Discard
	}
	fmt.Fprintf(log, "labprobe: polling %s every %s (Ctrl-C for the summary)\n", *url, *interval)
	client := &http.Client{Timeout: *timeout}
	r := probe(ctx, *interval, func() (string, error) { return check(client, *url) }, log)
	fmt.Print(r.Summary(*url))
	// Keeping the run is for the class's comparison; the student's summary above is the
	// result, so a run that cannot be kept only says so.
	if path, err := keep(r.Run(*url), os.Getenv("HOME")); err != nil {
		fmt.Fprintf(os.Stderr, "labprobe: this run is not kept for the class comparison: %v\n", err)
	} else {
		fmt.Fprintf(log, "  kept in %s for the class comparison\n", path)
	}
}

// check asks url once and returns who served the answer (its X-Served-By header).
func check(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Served-By"), nil
}

// probe runs check every interval until ctx ends, logging each change of state.
func probe(ctx context.Context, interval time.Duration, check func() (string, error), log io.Writer) *Record {
	r := &Record{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		now := time.Now()
		servedBy, err := check()
		r.Served(servedBy)
		switch change := r.Add(now, err == nil); change {
		case wentDown:
			fmt.Fprintf(log, "%s DOWN: %v\n", now.Format("15:04:05.000"), err)
		case cameBack:
			fmt.Fprintf(log, "%s UP again after %s\n", now.Format("15:04:05.000"), r.Outages[len(r.Outages)-1].Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			r.Finish(time.Now())
			return r
		case <-tick.C:
		}
	}
}
