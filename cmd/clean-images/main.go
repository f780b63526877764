// clean-images removes every image labfleet built (label org.labfleet.image) from the local
// Docker engine ($DOCKER_HOST applies): what `pulumi destroy` keeps as a cache. Run it after
// `make destroy`; an image a running cohort uses is kept and named.
//
//	go run ./cmd/clean-images
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/model/plan"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	removed, err := images.RemoveBuilt(ctx, plan.Engine{}, images.BuiltLabel)
	for _, ref := range removed {
		fmt.Println("removed", ref)
	}
	fmt.Printf("%d images labfleet built removed\n", len(removed))
	if err != nil {
		fmt.Fprintln(os.Stderr, "clean-images:", err)
		os.Exit(1)
	}
}
