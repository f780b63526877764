package steps

import (
	"context"
	"fmt"
	"time"
)

// Poll calls check until it reports done, every interval, for at most timeout (scaled by
// the Pace ctx carries, like a step's limit). It returns
// at once when ctx ends (Ctrl-C on `pulumi up`), never sleeping through a cancellation.
// When time runs out the error says what was waited for and the last thing check said.
func Poll(ctx context.Context, what string, timeout, interval time.Duration, check func(context.Context) (done bool, err error)) error {
	timeout = PaceOf(ctx).Scale(timeout)
	deadline := time.Now().Add(timeout)
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		case <-tick.C:
		}
		done, err := check(ctx)
		if done {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
		if !time.Now().Before(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not done after %s: %w", what, timeout, err)
			}
			return fmt.Errorf("%s: not done after %s", what, timeout)
		}
		tick.Reset(interval)
	}
}
