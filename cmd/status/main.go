// Command status shows a whole cohort at a glance, and exits 1 when anything is not ready
// (2 when it cannot check at all):
//
//	pulumi stack output --json | go run ./cmd/status -cohort dev -seed-file <(pulumi config get labfleet:keySeed)
//
// `make status STACK=dev` runs exactly that; `-json` prints the full report as JSON.
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
	"os"
	"os/signal"
	"strings"

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
	report := status.Check(ctx, *cohort, teams, keys, status.Options{Parallel: *parallel})
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
