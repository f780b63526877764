// Command handout writes each team's handout files from a cohort's stack outputs:
//
//	pulumi stack output --json --show-secrets | go run ./cmd/handout -o handouts [-with-keys]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/labfleet/labfleet/handout"
	"github.com/labfleet/labfleet/model/outputs"
)

func main() {
	dir := flag.String("o", "handouts", "directory to write the files to")
	withKeys := flag.Bool("with-keys", false, "also print each team's private key on its HTML card (under a warning)")
	flag.Parse()
	var o outputs.Outputs
	if err := json.NewDecoder(os.Stdin).Decode(&o); err != nil {
		fail("reading stack outputs from stdin: %v (pipe `pulumi stack output --json --show-secrets` in)", err)
	}
	var opts []handout.Option
	if *withKeys {
		opts = append(opts, handout.KeysOnCards)
	}
	files, err := handout.Files(o, opts...)
	if err != nil {
		fail("%v", err)
	}
	if err := handout.Write(*dir, files); err != nil {
		fail("%v", err)
	}
	fmt.Printf("wrote %d files for %d teams to %s/ (print %s/%s: one team per A4 page)\n", len(files), len(o.Teams), *dir, *dir, handout.AllTeamsFile)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "handout: "+format+"\n", args...)
	os.Exit(1)
}
