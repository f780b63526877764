// Command prereq checks this machine for what labfleet's make targets need, fixes what it can
// and prints one table. It runs in the labfleet checkout: `make up`, `preview` and `destroy`
// run it first and stop when it fails; `make outputs`, `handouts` and `status`, which only read
// the stack, run it with -cli-only; `make test` runs it with -tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/labfleet/labfleet/prereq"
)

func main() {
	tests := flag.Bool("tests", false, "check only what `make test` needs, a Docker engine; without one, say that the integration tests will be NOT RUN (and succeed)")
	cliOnly := flag.Bool("cli-only", false, "check only the Pulumi CLI (building the pinned one if missing): what reading a stack needs; no engine, no plugin")
	flag.Parse()
	if *tests && *cliOnly {
		fail(errors.New("-tests and -cli-only check different things: give one of them"))
	}
	project, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	m, err := prereq.ThisMachine(project)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *tests {
		engine := prereq.CheckEngine(ctx, m)
		if !prereq.WriteTable(os.Stdout, []prereq.Row{engine}) {
			fmt.Println("integration tests: NOT RUN (not a pass) without a Docker engine; to run them, do the fix above and rerun `make test`")
		}
		return
	}
	var rows []prereq.Row
	if *cliOnly {
		rows = []prereq.Row{prereq.CheckCLI(ctx, m)}
	} else {
		rows = prereq.Check(ctx, m)
	}
	if !prereq.WriteTable(os.Stdout, rows) {
		stop()
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "prereq:", err)
	os.Exit(1)
}
