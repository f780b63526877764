// Command bench measures how long labfleet takes to turn a cohort's node containers into
// ready swarms with the Day-2 lab, and what a node costs in memory, against a raw baseline
// measured in the same run on the same engine: the same containers, with swarm init/join,
// the lab images' streams and the day2 stack deploy done by plain `docker exec` and no
// checks (the floor any tool has to pay). Where a Pulumi CLI and the docker plugin are
// installed, it also times the real `pulumi up`, a no-op `pulumi up` and `pulumi destroy`.
//
// The labfleet run uses the cohort's default fan-out (labfleet:parallelTeams and
// parallelStreams), so several team counts show what that bound costs and saves:
//
//	go run ./cmd/bench -teams 1,8,20
//
// -measure chooses what to time: day2 (the above), day3 (a running Day-2 cohort switched to
// every team's kind cluster Ready and back, against raw `kind create cluster`, for
// -kind-teams teams) and vm (VM nodes against dind nodes). make bench measures day2 and day3.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/bootstrap/status"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

const image = "labfleet-bench-node:latest"

func main() {
	measures := flag.String("measure", "day2,day3", "what to measure, comma-separated: day2 (bootstrap to the Day-2 lab, and the real pulumi commands), day3 (the switch to every team's kind cluster Ready and back), vm (VM nodes against dind nodes, one team of 1 manager + 1 worker)")
	teams := flag.String("teams", "4", "day2: comma-separated team counts to measure (1 manager + 2 workers each)")
	kindTeams := flag.String("kind-teams", "1", "day3: comma-separated team counts to measure (a kind cluster of 1 control plane + 2 workers each)")
	flag.Parse()
	want := map[string]bool{}
	for _, m := range strings.Split(*measures, ",") {
		switch m = strings.TrimSpace(m); m {
		case "day2", "day3", "vm":
			want[m] = true
		default:
			fmt.Fprintf(os.Stderr, "bench: -measure %q: use day2, day3 or vm, comma-separated\n", m)
			os.Exit(2)
		}
	}
	// Ctrl-C stops the run; each measurement still removes what it created (on a context of
	// its own), and the real-CLI mode still destroys its stack.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := localnodes.Docker(ctx, "build", "-q", "-t", image, filepath.Join(".", infra.NodeImageContext)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if want["vm"] {
		if err := vmBench(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if !want["day2"] && !want["day3"] {
		return
	}
	lab, err := buildLabImages(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: lab images:", err)
		os.Exit(1)
	}
	if want["day2"] {
		forEachCount(*teams, "day2", func(n int) error { return run(ctx, n, lab) })
	}
	if want["day3"] {
		forEachCount(*kindTeams, "day3", func(n int) error { return kindBench(ctx, n, lab) })
	}
}

// forEachCount measures each team count of a comma-separated list, and stops the command at
// the first that fails.
func forEachCount(counts, what string, measure func(teams int) error) {
	for _, n := range strings.Split(counts, ",") {
		count, err := strconv.Atoi(strings.TrimSpace(n))
		if err == nil && (count < 1 || count > 30) {
			err = errors.New("use 1 to 30 teams")
		}
		if err == nil {
			err = measure(count)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s, %s teams: %v\n", what, n, err)
			os.Exit(1)
		}
	}
}

type measurement struct {
	create, ready, rerun, remove time.Duration
	memMB                        float64 // per idle node
	peakHostMB                   float64 // host memory in use at the peak of the bootstrap, above the level before it
	peakSelfMB                   float64 // this process's peak resident memory (the bootstrap's own cost)

	status time.Duration // `make status` over the whole cohort
}

func run(ctx context.Context, teams int, lab labImages) error {
	raw, err := measure(ctx, "lfbench-raw", teams, 23200, "172.23.0.0/16", lab, rawCohort)
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	lf, err := measure(ctx, "lfbench-lf", teams, 27200, "172.22.0.0/16", lab, labfleetCohort)
	if err != nil {
		return fmt.Errorf("labfleet: %w", err)
	}
	fmt.Printf("\n%d teams x 3 nodes with the Day-2 lab on this engine (same node image and containers for both; labfleet bootstraps %d teams and %d image streams at once)\n\n",
		teams, plan.Defaults("").ParallelTeams, plan.Defaults("").ParallelStreams)
	fmt.Printf("%-44s %12s %12s %8s\n", "", "raw exec", "labfleet", "ratio")
	row("create networks, volumes, containers", raw.create, lf.create)
	row("containers started -> swarms + day2 ready", raw.ready, lf.ready)
	row("total to ready (the full floor)", raw.create+raw.ready, lf.create+lf.ready)
	fmt.Printf("%-44s %12s %12s\n", "second run (nothing to do)", "n/a", lf.rerun.Round(time.Millisecond))
	fmt.Printf("%-44s %12s %12s\n", "status of every team (make status)", "n/a", lf.status.Round(time.Millisecond))
	row("remove everything", raw.remove, lf.remove)
	fmt.Printf("%-44s %10.1fMB %10.1fMB %7.2fx\n", "memory per idle node (docker stats)", raw.memMB, lf.memMB, lf.memMB/raw.memMB)
	fmt.Printf("%-44s %10.0fMB %10.0fMB %7.2fx\n", "peak host memory during the bootstrap", raw.peakHostMB, lf.peakHostMB, lf.peakHostMB/raw.peakHostMB)
	fmt.Printf("%-44s %12s %10.0fMB\n", "peak memory of the bootstrap process", "n/a", lf.peakSelfMB)
	return cliRun(ctx, teams, raw)
}

// row prints one timing against its raw baseline.
func row(name string, raw, measured time.Duration) {
	fmt.Printf("%-44s %12s %12s %7.2fx\n", name, raw.Round(time.Millisecond), measured.Round(time.Millisecond), float64(measured)/float64(raw))
}

type converger func(ctx context.Context, c *localnodes.Cohort, lab labImages) (rerun time.Duration, err error)

func measure(ctx context.Context, name string, teams, portBase int, pool string, lab labImages, converge converger) (measurement, error) {
	var m measurement
	cfg := plan.Defaults(name)
	cfg.Teams, cfg.SSHPortBase, cfg.AddressPool = teams, portBase, pool
	p, err := plan.Build(cfg)
	if err != nil {
		return m, err
	}
	keys, err := sshkeys.New("benchmark-seed-0123456789abcdef-0123", p.Cohort)
	if err != nil {
		return m, err
	}
	start := time.Now()
	c, err := localnodes.Create(ctx, p, keys, image)
	defer c.Remove(context.WithoutCancel(ctx))
	if err != nil {
		return m, err
	}
	m.create = time.Since(start)
	before := hostMemoryMB()
	peak := samplePeak(hostMemoryMB)
	start = time.Now()
	m.rerun, err = converge(ctx, c, lab)
	m.ready = time.Since(start) - m.rerun
	m.peakHostMB = peak() - before
	m.peakSelfMB = selfPeakMB()
	if err != nil {
		return m, err
	}
	time.Sleep(3 * time.Second) // let the nodes settle before reading memory
	if m.memMB, err = memoryPerNode(ctx, p.Cohort); err != nil {
		return m, err
	}
	if m.status, err = timeStatus(ctx, c); err != nil {
		return m, err
	}
	start = time.Now()
	c.Remove(ctx)
	m.remove = time.Since(start)
	return m, nil
}

// timeStatus times what `make status` does once it has read the stack outputs, over the
// whole cohort, which must be ready.
func timeStatus(ctx context.Context, c *localnodes.Cohort) (time.Duration, error) {
	var teams []status.Team
	for _, t := range c.Plan.Teams {
		teams = append(teams, status.Team{Name: t.Name, Outputs: outputs.Team{Nodes: outputs.NodesFor(c.Plan, t, c.Keys)}})
	}
	start := time.Now()
	r := status.Check(ctx, c.Plan.Cohort, teams, c.Keys, status.Options{})
	took := time.Since(start)
	if problems := r.Problems(); len(problems) > 0 {
		return took, fmt.Errorf("status: %s", strings.Join(problems, "; "))
	}
	return took, nil
}

// progress prints the bootstrap's progress as `pulumi up` shows it, with the time since
// the benchmark started, to stderr (the tables go to stdout).
var progress = func() steps.Lines {
	start := time.Now()
	return func(line string) {
		fmt.Fprintf(os.Stderr, "  %7s  %s\n", steps.Elapsed(time.Since(start)), strings.ReplaceAll(line, "\n", "\n           "))
	}
}()

// labfleetCohort is what `pulumi up` runs, then runs it again (the no-op rerun).
func labfleetCohort(ctx context.Context, c *localnodes.Cohort, lab labImages) (time.Duration, error) {
	opts := bootstrap.Options{Report: progress}
	if _, err := bootstrap.Cohort(ctx, c.Plan, c.Keys, bootstrap.LocalLabImages(lab), opts); err != nil {
		return 0, err
	}
	start := time.Now()
	_, err := bootstrap.Cohort(ctx, c.Plan, c.Keys, bootstrap.LocalLabImages(lab), opts)
	return time.Since(start), err
}

// hostMemoryMB is the host's memory in use (MemTotal - MemAvailable), in MB.
func hostMemoryMB() float64 {
	total, avail := meminfo("/proc/meminfo", "MemTotal:"), meminfo("/proc/meminfo", "MemAvailable:")
	return (total - avail) / 1024
}

// selfPeakMB is this process's peak resident set (VmHWM), in MB.
func selfPeakMB() float64 { return meminfo("/proc/self/status", "VmHWM:") / 1024 }

// meminfo reads one "Key: N kB" line of a /proc file, in kB.
func meminfo(file, key string) float64 {
	b, _ := os.ReadFile(file)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}

// samplePeak reads f every 200 ms until the returned function is called, which returns
// the highest value seen.
func samplePeak(f func() float64) func() float64 {
	peak := f()
	stop := steps.Every(200*time.Millisecond, func() { peak = max(peak, f()) })
	return func() float64 {
		stop() // after it, nothing else writes peak
		return max(peak, f())
	}
}

// memoryPerNode averages `docker stats` memory over the cohort's containers, in MB.
func memoryPerNode(ctx context.Context, cohort string) (float64, error) {
	ids, err := localnodes.Docker(ctx, "ps", "-q", "--filter", "label=labfleet.cohort="+cohort)
	if err != nil {
		return 0, err
	}
	out, err := localnodes.Docker(ctx, append([]string{"stats", "--no-stream", "--format", "{{.MemUsage}}"}, strings.Fields(ids)...)...)
	if err != nil {
		return 0, err
	}
	var total float64
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		used := strings.Fields(l)[0] // "45.3MiB / 1GiB"
		unit := map[string]float64{"KiB": 1.0 / 1024, "MiB": 1, "GiB": 1024}
		for suffix, scale := range unit {
			if v, ok := strings.CutSuffix(used, suffix); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f * scale
			}
		}
	}
	return total / float64(len(lines)), nil
}
