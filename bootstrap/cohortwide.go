package bootstrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// cohortInputs are what every team's run shares, made once for the whole cohort before any
// team starts: each host's Day-2 lab images, ready to stream into its teams' nodes, and
// Day 3's tools and kind node images.
type cohortInputs struct {
	labImages map[string][]lab.Image // by host name
	day3      day3Inputs
}

// prepareCohort is the cohort-wide work. Its error stops every team; a host without a kind
// node image only fails that host's teams, at their Day-3 stage. cleanup removes the image
// archives once every team is done with them.
func prepareCohort(ctx context.Context, p *plan.Plan, labImageIDs LabImages, opts *Options) (in cohortInputs, cleanup func(), err error) {
	// Image archives land here, written only when some node needs one.
	archives, err := os.MkdirTemp("", "labfleet-images-")
	if err != nil {
		return in, nil, err
	}
	cleanup = func() { os.RemoveAll(archives) }
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	streams := steps.NewLimit(p.Parallel.Streams)
	in.labImages = map[string][]lab.Image{}
	for _, h := range usedHosts(p) {
		// Each host's archives apart: the same image has another ID on another host.
		dir := filepath.Join(archives, h.Name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return in, nil, err
		}
		if p.Day2.Enabled {
			if in.labImages[h.Name], err = lab.Images(h.Engine, dir, day2.Images, labImageIDs[h.Name], streams); err != nil {
				return in, nil, fmt.Errorf("host %s: %w", h.Name, err)
			}
		}
	}
	if in.day3, err = prepareDay3(ctx, p, archives, streams, opts); err != nil {
		return in, nil, err
	}
	return in, cleanup, nil
}

// usedHosts are the hosts whose images some team uses, in plan order: their own teams',
// and those of teams on existing machines (the local engine).
func usedHosts(p *plan.Plan) []plan.Host {
	var out []plan.Host
	for _, h := range p.Hosts {
		if len(p.TeamsServedBy(h.Name)) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// day3Inputs are what every team's Day-3 step shares: tools built once, and the kind node
// image found (or built) once on each host, or why it could not be.
type day3Inputs struct {
	tools      kindprep.Tools
	nodeImage  map[string]*images.Image
	imageError map[string]error
}

// prepareDay3 makes sure every host that has teams holds the kind node image, and builds
// kind and kubectl for the nodes. A host whose image cannot be had fails only its own
// teams, when their turn comes (after their swarm and Day-2 lab); what each cluster needs
// of its node is checked in the team's own Day-3 step (kindprep.Preflight).
func prepareDay3(ctx context.Context, p *plan.Plan, archives string, streams *steps.Limit, opts *Options) (day3Inputs, error) {
	in := day3Inputs{nodeImage: map[string]*images.Image{}, imageError: map[string]error{}}
	if !p.Day3.Prepare {
		return in, nil
	}
	for _, h := range usedHosts(p) {
		id, err := kindNodeImage(ctx, p.Day3.NodeImage, h.Engine, opts)
		if err != nil {
			in.imageError[h.Name] = fmt.Errorf("host %s: %w", h.Name, err)
			opts.Report.Info("", fmt.Sprintf("day 3: host %s has no kind node image, so its teams will fail: %v", h.Name, err))
			continue
		}
		in.nodeImage[h.Name] = images.New(h.Engine, p.Day3.NodeImage, id, filepath.Join(archives, h.Name), streams)
	}
	err := steps.Run(ctx, "", []steps.Step{{Name: "build kind and kubectl for the nodes", Run: func(ctx context.Context) (err error) {
		in.tools, err = kindprep.BuildTools(ctx, opts.repoDir(), opts.cacheDir())
		return err
	}}})
	return in, err
}

// kindNodeImage returns the ID of the kind node image ref on a host: there already, pulled
// there (an instructor with a registry, e.g. kindest/node), or, for labfleet's own image,
// built there offline (kindimage: the first time, tens of minutes; then seconds).
func kindNodeImage(ctx context.Context, ref string, e plan.Engine, opts *Options) (string, error) {
	if ref == kindimage.Ref {
		return kindimage.Build(ctx, opts.repoDir(), opts.cacheDir(), e)
	}
	if id := images.HostID(ctx, e, ref); id != "" {
		return id, nil
	}
	if _, err := engine.Docker(ctx, e, "pull", "-q", ref); err != nil {
		return "", fmt.Errorf("labfleet:kindNodeImage %s is not on the Docker host and cannot be pulled there (%v): "+
			"pull it where a registry is reachable and `docker load -i` a saved copy on the host, or leave labfleet:kindNodeImage at its default (%s), which labfleet builds offline", ref, err, kindimage.Ref)
	}
	return images.HostID(ctx, e, ref), nil
}
