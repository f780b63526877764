// Command prereq checks this machine for what labfleet's make targets need, fixes what it can
// and prints one table. It runs in the labfleet checkout: `make up`, `destroy`, `outputs` and
// `handouts` run it first and stop when it fails; `make test` runs it with -tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/labfleet/labfleet/prereq"
)

func main() {
	tests := flag.Bool("tests", false, "check only what `make test` needs, a Docker engine; without one, say that the integration tests will be NOT RUN (and succeed)")
	flag.Parse()
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
	if !prereq.WriteTable(os.Stdout, prereq.Check(ctx, m)) {
		stop()
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "prereq:", err)
	os.Exit(1)
}
