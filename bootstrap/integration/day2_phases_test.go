package integration

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// phase1Load is Phase 1's load as the course writes it, run on a node: one
// `ab -n 10000 -c 100` against vulnerable-app, while the student's other terminals are
// written down: the course's curl-format request every 250 ms, `docker stats` and labprobe.
// After ab, up to 20 s for the app to stop answering. Bounded: ab and every curl run under
// timeout, and all traffic goes to the node's own loopback. The test reads lines that start
// with a tag and a time.
const phase1Load = `
now() { date +%s.%N; }
labprobe -url http://localhost:8080/health -interval 200ms -quiet >/tmp/phase1-probe.log &
probe=$!
(while :; do
  if out=$(timeout 5 curl -w "@curl-format.txt" -o /dev/null -s http://localhost:8080/); then
    echo "curl $(now) $(echo "$out" | awk '/time_total/ {print $2}')"
  else
    echo "curl $(now) failed"
  fi
  sleep 0.25
done) >/tmp/phase1-curl.log 2>&1 &
curls=$!
(while :; do
  echo "stats $(now) $(docker stats --no-stream --format '{{.MemPerc}}' vulnerable-app)"
  sleep 0.5
done) >/tmp/phase1-stats.log 2>&1 &
stats=$!
sleep 1
echo "ab-start $(now)"
timeout 120 ab -n 10000 -c 100 http://localhost:8080/ >/tmp/phase1-ab.log 2>&1
echo "ab-end $(now)"
result=still-up
for i in $(seq 80); do
  timeout 2 curl -sf -o /dev/null http://localhost:8080/health || { result=down; break; }
  sleep 0.25
done
echo "$result $(now)"
sleep 1
kill $curls $stats
kill -INT $probe
wait $probe
cat /tmp/phase1-curl.log /tmp/phase1-stats.log
grep -E '^(Complete requests|Total of)' /tmp/phase1-ab.log
docker inspect --format 'state {{.State.Status}} oom={{.State.OOMKilled}} exit={{.State.ExitCode}}' vulnerable-app
cat /tmp/phase1-probe.log
`

// phase1Outcome is what a student sees in Phase 1, read from phase1Load's output.
type phase1Outcome struct {
	completed          int           // requests ab completed, 10000 when it finished
	ran                time.Duration // how long ab ran
	down               time.Duration // from ab's start until /health failed; 0 if it never did
	idle, early, late  time.Duration // curl time_total: before the load, first and last three under it (medians)
	curlsUnderLoad     int
	memFirst, memPeak  float64 // docker stats MemPerc under the load
	state, probeReport string
}

var abCompleted = regexp.MustCompile(`(?m)^(?:Complete requests:\s+(\d+)|Total of (\d+) requests completed)`)

// parsePhase1 reads phase1Load's output.
func parsePhase1(out string) (phase1Outcome, error) {
	var o phase1Outcome
	var abStart, abEnd, downAt float64
	var idle, under []float64 // curl time_total in seconds, answered ones
	var report []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		at := func() float64 {
			if len(f) < 2 {
				return 0
			}
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
		switch f[0] {
		case "ab-start":
			abStart = at()
		case "ab-end":
			abEnd = at()
		case "down":
			downAt = at()
		case "curl":
			if len(f) < 3 || f[2] == "failed" {
				continue
			}
			secs, err := strconv.ParseFloat(strings.TrimSuffix(f[2], "s"), 64)
			if err != nil {
				return o, fmt.Errorf("curl line %q: %w", line, err)
			}
			switch t := at(); {
			case abStart == 0 || t < abStart:
				idle = append(idle, secs)
			case downAt == 0 || t < downAt:
				under = append(under, secs)
			}
		case "stats":
			if len(f) < 3 || abStart == 0 || at() < abStart || (downAt > 0 && at() > downAt) {
				continue
			}
			if pct, err := strconv.ParseFloat(strings.TrimSuffix(f[2], "%"), 64); err == nil {
				if o.memFirst == 0 {
					o.memFirst = pct
				}
				o.memPeak = max(o.memPeak, pct)
			}
		case "state":
			o.state = strings.Join(f[1:], " ")
		default:
			if o.state != "" { // labprobe's report comes last
				report = append(report, line)
			}
		}
	}
	if abStart == 0 || abEnd == 0 {
		return o, fmt.Errorf("no ab run in the output:\n%s", out)
	}
	o.ran = seconds(abEnd - abStart)
	if downAt > 0 {
		o.down = seconds(downAt - abStart)
	}
	if m := abCompleted.FindStringSubmatch(out); m != nil {
		o.completed, _ = strconv.Atoi(m[1] + m[2])
	}
	if len(idle) == 0 || len(under) < 6 {
		return o, fmt.Errorf("too few curl samples (%d idle, %d under load):\n%s", len(idle), len(under), out)
	}
	o.idle = seconds(idle[0])
	o.early, o.late = seconds(median(under[:3])), seconds(median(under[len(under)-3:]))
	o.curlsUnderLoad = len(under)
	o.probeReport = strings.Join(report, "\n")
	return o, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// startVulnerableApp starts Phase 1's container on node with a memory limit, as written, and
// waits until it answers.
func startVulnerableApp(t *testing.T, c *cohort, node, memory string) {
	t.Helper()
	c.run(node, "docker run -d --name vulnerable-app --memory="+memory+" -p 8080:3000 memory-leak-app:latest >/dev/null")
	waitFor(t, 20*time.Second, func() bool {
		_, err := c.ssh(node).Run(context.Background(), "curl -sf http://localhost:8080/health")
		return err == nil
	})
	if out := c.run(node, "curl http://localhost:8080/health"); !strings.Contains(out, `"status":"ok"`) {
		t.Errorf("health at start: %q", out)
	}
}

// phase1 runs the course's Phase-1 load on node against vulnerable-app (started with the
// memory limit given), then removes the app. It checks what the lab is about: the app
// answers fast at first, slows down visibly while `docker stats` climbs to the limit, and
// fails within the one ab run or seconds after it.
func phase1(t *testing.T, c *cohort, node, memory string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := c.ssh(node).Run(ctx, phase1Load)
	if err != nil {
		t.Fatalf("phase 1 load: %v\n%s", err, out)
	}
	o, err := parsePhase1(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE Phase 1 at --memory=%s: ab completed %d of 10000 requests in %s; /health failed %s after ab started; "+
		"curl time_total %s idle, %s early under load, %s before the failure (medians of 3, %d samples under load); "+
		"docker stats %.0f%% -> %.0f%%; %s",
		memory, o.completed, o.ran.Round(100*time.Millisecond), o.down.Round(100*time.Millisecond),
		o.idle.Round(time.Millisecond), o.early.Round(time.Millisecond), o.late.Round(time.Millisecond), o.curlsUnderLoad,
		o.memFirst, o.memPeak, o.state)
	t.Logf("labprobe:\n%s", o.probeReport)

	if o.idle > 100*time.Millisecond {
		t.Errorf("the idle app took %s to answer the course's curl", o.idle)
	}
	// "The first hundreds of requests answer fast": the first three curls under load (one
	// every 0.25 s plus its own time) come within about a second of ab's start, among its
	// first several hundred requests. The README measured 72-93 ms for them on this 2-core
	// machine and 0.7-1.1 s just before the failure; 400 ms leaves room for a machine shared
	// with other tests while staying well below what the end of the run shows.
	if o.early > 400*time.Millisecond {
		t.Errorf("the app took %s to answer the course's curl at the start of the run, want under 400ms", o.early)
	}
	if o.completed < 5000 {
		t.Errorf("the app failed after %d requests, in the first half of the run", o.completed)
	}
	if o.down == 0 || o.down > o.ran+20*time.Second {
		t.Errorf("the app still answered 20 s after the run (down after %s, ab ran %s)", o.down, o.ran)
	}
	if o.late < 2*o.early {
		t.Errorf("response times did not climb before the failure: %s early under load, %s at the end", o.early, o.late)
	}
	if o.memPeak < 70 || o.memFirst >= o.memPeak {
		t.Errorf("docker stats did not climb to the limit: %.1f%% first, %.1f%% at most", o.memFirst, o.memPeak)
	}
	if !strings.Contains(o.state, "oom=true") && !strings.Contains(o.state, "exit=137") {
		t.Errorf("expected the kernel to kill the app at its %s limit: %s", memory, o.state)
	}
	if !strings.Contains(o.probeReport, "NOT RECOVERED") || strings.Contains(o.probeReport, "availability:    100.00%") {
		t.Errorf("the probe did not report the outage:\n%s", o.probeReport)
	}
	c.run(node, "docker rm -f vulnerable-app >/dev/null")
}

// phase2Load is Phase 2's load as the course writes it, run on the manager:
// `ab -n 50000 -c 200` against web-service while labprobe watches /health. Bounded by
// timeout; the traffic goes to the node's own loopback.
const phase2Load = `
labprobe -url http://localhost:8080/health -interval 100ms -quiet >/tmp/phase2-probe.log &
probe=$!
rm -f /tmp/phase2-ab.log
echo "ab-start $(date +%s.%N)"
timeout 240 ab -n 50000 -c 200 http://localhost:8080/ >/tmp/phase2-ab.log 2>&1
echo "ab-exit $? $(date +%s.%N)"
kill -INT $probe
wait $probe
grep -E '^(Complete requests|Failed requests|Non-2xx responses|Time taken for tests|Requests per second)|^ +\(Connect|apr_' /tmp/phase2-ab.log
cat /tmp/phase2-probe.log
`

var abFailures = regexp.MustCompile(`\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)`)

// abErrors counts the requests ab saw fail. ab also counts an answer whose length differs
// from the first one's as failed ("Length"), and improved-app's answers name the task that
// served them, so only connect, receive and exception errors count.
func abErrors(out string) int {
	m := abFailures.FindStringSubmatch(out)
	if m == nil { // ab prints the breakdown only when something "failed"
		return 0
	}
	var n int
	for _, v := range m[1:] {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}

var probeAvailability = regexp.MustCompile(`availability:\s+([\d.]+)%`)

// phase2 runs the course's Phase-2 load against web-service (6 replicas, answering on port
// 8080 of the manager) and scales it to 2 while the load runs, as the course does: the
// service must keep answering.
func phase2(t *testing.T, c *cohort, mgr string) {
	t.Helper()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	started := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := c.ssh(mgr).Run(ctx, phase2Load)
		done <- result{out, err}
	}()
	// Scale once ab is under way with most of its run ahead: it has reported its first
	// tenth ("Completed 5000 requests") and not yet ended.
	waitFor(t, time.Minute, func() bool {
		out, _ := c.ssh(mgr).Run(context.Background(), "grep -c '^Completed 5000 requests' /tmp/phase2-ab.log")
		return strings.TrimSpace(out) == "1"
	})
	scaleStart := time.Now()
	scaleOut, scaleErr := c.ssh(mgr).Run(context.Background(), "docker service scale web-service=2")
	scaled := time.Since(scaleStart)
	r := <-done
	if r.err != nil {
		t.Fatalf("phase 2 load: %v\n%s", r.err, r.out)
	}
	if scaleErr != nil {
		t.Fatalf("docker service scale web-service=2: %v\n%s", scaleErr, scaleOut)
	}
	t.Logf("ab -n 50000 -c 200, web-service scaled 6 -> 2 in %s, %s after ab started:\n%s",
		scaled.Round(100*time.Millisecond), scaleStart.Sub(started).Round(100*time.Millisecond), r.out)
	exit := regexp.MustCompile(`ab-exit (\d+) ([\d.]+)`).FindStringSubmatch(r.out)
	if exit == nil {
		t.Fatalf("ab did not finish:\n%s", r.out)
	}
	if end, _ := strconv.ParseFloat(exit[2], 64); seconds(end) < time.Duration(scaleStart.UnixNano()) {
		t.Fatalf("ab ended before the scale-down began: the test did not scale under load")
	}
	if exit[1] != "0" || !strings.Contains(r.out, "Complete requests:      50000") || abErrors(r.out) != 0 || strings.Contains(r.out, "Non-2xx") {
		t.Errorf("requests failed while scaling 6 -> 2:\n%s", r.out)
	}
	m := probeAvailability.FindStringSubmatch(r.out)
	if m == nil {
		t.Fatalf("no labprobe summary:\n%s", r.out)
	}
	avail, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("MEASURE Phase 2: ab -n 50000 -c 200 while scaling web-service 6 -> 2: labprobe availability %.2f%%", avail)
	if avail < 100 {
		t.Errorf("web-service did not keep answering while scaling 6 -> 2: availability %.2f%%", avail)
	}
}
