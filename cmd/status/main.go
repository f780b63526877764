// Command status shows a whole cohort at a glance, and exits 1 when anything is not ready
// (2 when it cannot check at all):
//
//	pulumi stack output --json | go run ./cmd/status -cohort dev -seed-file <(pulumi config get labfleet:keySeed)
//
// `make status STACK=dev` runs exactly that; `-json` prints the full report as JSON.
// `-serve ADDR` (what `make dashboard` runs) serves the instructor's live page of every team
// instead, checked again every few seconds, on loopback unless -serve-anywhere.
// `-results DIR` (what `make results` runs) prints Phase 3 of the Day-2 lab instead, every
// team's kept labprobe runs and the class's spread per phase, and writes them to
// DIR/results.csv and DIR/results.html (a printable page for the debrief).
//
// It logs in as labfleet's own admin user, as the bootstrap does, not as the students: they
// can change their own authorized_keys, labfleet's account they cannot. The admin key is
// never exported (students must never get it, and it is one derivation away from the seed
// anyway), so status derives it from the stack's key seed like the program does. The seed
// comes in through a file, which `make status` fills from `pulumi config get` through a
// pipe: it never appears on a command line (`ps` would show it to every user of the host),
// in the environment, or on disk.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/status"
	"github.com/labfleet/labfleet/model/sshkeys"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, colourful(os.Stdout))
	stop()
	os.Exit(code)
}

// Exit codes: everything ready, something not ready, nothing could be checked.
const (
	exitReady    = 0
	exitNotReady = 1
	exitBadInput = 2
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, colour bool) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "status: "+format+"\n", args...)
		return exitBadInput
	}
	flags := flag.NewFlagSet("status", flag.ContinueOnError)
	flags.SetOutput(stderr)
	cohort := flags.String("cohort", "", "the cohort, which is the Pulumi stack's name (make status STACK=<name>)")
	seedFile := flags.String("seed-file", "", "file holding labfleet:keySeed, e.g. <(pulumi config get labfleet:keySeed --stack <name>)")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	parallel := flags.Int("parallel", 8, "teams checked at once")
	serveAddr := flags.String("serve", "", "serve the live page of every team on this address instead (make dashboard), e.g. 127.0.0.1:8088")
	anywhere := flags.Bool("serve-anywhere", false, "allow -serve on an address other than loopback")
	refresh := flags.Duration("refresh", 3*time.Second, "with -serve: the pause between two checks of the cohort")
	results := flags.String("results", "", "print Phase 3's results (the labprobe runs kept on the nodes) and write results.csv and results.html into this directory")
	if err := flags.Parse(args); err != nil {
		return exitBadInput
	}
	if *cohort == "" || *seedFile == "" {
		return fail("-cohort and -seed-file are required: run it as `make status STACK=<stack>`, or see `go doc ./cmd/status`")
	}
	seed, err := os.ReadFile(*seedFile)
	if err != nil {
		return fail("reading the key seed: %v", err)
	}
	// `pulumi config get` ends the value with a newline that is not part of it.
	keys, err := sshkeys.New(strings.TrimSuffix(string(seed), "\n"), *cohort)
	if err != nil {
		return fail("%v", err)
	}
	teams, err := status.ReadOutputs(stdin)
	if err != nil {
		return fail("%v", err)
	}
	if *serveAddr != "" {
		if err := listenAddr(*serveAddr, *anywhere); err != nil {
			return fail("%v", err)
		}
		l, err := net.Listen("tcp", *serveAddr)
		if err != nil {
			return fail("serving the dashboard: %v (another one running? make dashboard DASHBOARD_ADDR=127.0.0.1:<free port>)", err)
		}
		check := func(ctx context.Context) status.Report {
			return status.Check(ctx, *cohort, teams, keys, status.Options{Parallel: *parallel})
		}
		if err := serve(ctx, l, *refresh, *anywhere, check, stdout); err != nil {
			return fail("%v", err)
		}
		return exitReady
	}
	report := status.Check(ctx, *cohort, teams, keys, status.Options{Parallel: *parallel})
	if *results != "" {
		if err := writeResults(report, *results, stdout); err != nil {
			return fail("%v", err)
		}
		return exitReady
	}
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout, colour)
	}
	if err != nil {
		return fail("%v", err)
	}
	if bad := report.NotReady(); len(bad) > 0 {
		if *asJSON { // the table ends with this line already; JSON on stdout is for programs
			fmt.Fprintf(stderr, "status: %d of %d teams not ready: %s\n", len(bad), len(report.Teams), strings.Join(bad, ", "))
		}
		return exitNotReady
	}
	return exitReady
}

// colourful is true when f is a terminal and the user did not ask for no colour
// (https://no-color.org).
func colourful(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}

// writeResults prints Phase 3's results and writes them as CSV and HTML into dir. Teams
// that could not be read are named, since their runs are missing from the comparison.
func writeResults(r status.Report, dir string, stdout io.Writer) error {
	if err := r.WriteResults(stdout); err != nil {
		return err
	}
	for _, t := range r.Teams {
		for _, n := range t.Nodes {
			if !n.Reachable {
				fmt.Fprintf(stdout, "note: %s did not answer, so the runs kept on it are missing here: %s\n", n.Name, n.Error)
			}
		}
		for _, node := range t.RunsUnread {
			fmt.Fprintf(stdout, "note: the runs kept on %s could not be read (labfleet's sudo there?), so they are missing here\n", node)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{"results.csv": r.WriteResultsCSV, "results.html": r.WriteResultsHTML} {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	fmt.Fprintf(stdout, "\nwritten: %s, %s\n", filepath.Join(dir, "results.csv"), filepath.Join(dir, "results.html"))
	return nil
}
