package steps

import (
	"context"
	"time"
)

// Pace is how many times longer than on a docker-in-docker node the same work takes on a
// team's nodes: every step's time limit and every wait's timeout is multiplied by it. A
// limit sized for a container (`install labprobe` in 2 minutes, where it takes a second)
// is far too short for a VM guest emulated by TCG on a loaded host, and a limit sized for
// TCG would make a stuck container wait for many minutes. The node kind and acceleration
// set it (plan.Plan.Pace); the zero Pace counts as 1.
type Pace float64

type paceKey struct{}

// WithPace returns ctx carrying p, which every step and Poll under it scales its limits by.
func WithPace(ctx context.Context, p Pace) context.Context {
	return context.WithValue(ctx, paceKey{}, p)
}

// PaceOf returns the Pace ctx carries, 1 when none.
func PaceOf(ctx context.Context) Pace {
	if p, ok := ctx.Value(paceKey{}).(Pace); ok && p > 0 {
		return p
	}
	return 1
}

// Scale returns d at pace p.
func (p Pace) Scale(d time.Duration) time.Duration {
	if p <= 0 {
		return d
	}
	return time.Duration(float64(d) * float64(p))
}
