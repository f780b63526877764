package images

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/model/plan"
)

// BuiltLabel is on every image labfleet builds (a LABEL in each Dockerfile stage it builds):
// node and VM node images, the Day-2 lab images, the kind node image. `pulumi destroy` keeps
// them, as a cache that makes the next cohort's `pulumi up` fast (the kind node image takes
// tens of minutes to build); RemoveBuilt removes them. A container inherits its image's
// labels, so the name stays out of the labfleet.* labels a node container's settings are
// compared by (in a labfleet.* name, it made every node look changed and due for replacement).
const BuiltLabel = "org.labfleet.image"

// RemoveBuilt removes from engine e every image (every tag, and untagged older builds)
// carrying label, which is BuiltLabel or one of its values ("org.labfleet.image=node"). An
// image a container still uses is kept and named in the error: its cohort is still up.
// It returns what it removed.
func RemoveBuilt(ctx context.Context, e plan.Engine, label string) ([]string, error) {
	out, err := engine.Docker(ctx, e, "images", "--all", "--no-trunc", "--filter", "label="+label, "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
	if err != nil {
		return nil, err
	}
	// Tags go first, one at a time, so an image with two names loses both; an ID
	// then removes what has no name left.
	var tags, ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		id, ref, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if ref != "<none>:<none>" {
			tags = append(tags, ref)
		} else if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var removed []string
	var errs []error
	for _, ref := range append(tags, ids...) {
		if _, err := engine.Docker(ctx, e, "rmi", ref); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, ref)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("kept %d: %w (an image a container uses belongs to a cohort still up: make destroy first)", len(errs), errors.Join(errs...))
	}
	return removed, nil
}
