// kind-node-image builds labfleet's offline kind node image (kindimage.Ref) on the local
// Docker engine ($DOCKER_HOST applies), as `pulumi up` does on day 3 when a host lacks it.
// It prints each step as it goes and the image's size at the end; a second run with
// nothing changed returns in seconds.
//
//	go run ./cmd/kind-node-image [-cache DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

func main() {
	cache := flag.String("cache", kindimage.DefaultCacheDir(), "where the binaries and the build context are kept between builds")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	ctx = steps.WithReporter(ctx, steps.Lines(func(line string) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), line)
	}))
	id, err := kindimage.Build(ctx, ".", *cache, plan.Engine{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kind-node-image:", err)
		os.Exit(1)
	}
	size, _ := engine.Docker(ctx, plan.Engine{}, "image", "inspect", "--format", "{{.Size}}", kindimage.Ref)
	fmt.Printf("%s %s (%s bytes) ready in %s\n", kindimage.Ref, id, strings.TrimSpace(size), time.Since(start).Round(100*time.Millisecond))
}
