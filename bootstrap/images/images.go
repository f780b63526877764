// Package images moves Docker images from the Docker host into node containers without a
// registry: `docker save` once on the host (only if some node needs it), then `docker load`
// over SSH into every node that does not already have the same image ID, and tag it with the
// name the node uses.
package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

// Image is an image on the Docker host and the name it gets on nodes. Its archive is
// written with `docker save` the first time some node lacks the image, once for all teams,
// so a run where every node is up to date saves nothing (the kind node image is ~1 GB).
type Image struct {
	NodeRef string      // e.g. "improved-app:latest" or "kindest/node:v1.37.0"
	ID      string      // image ID on the host, which `docker load` keeps
	Engine  plan.Engine // the Docker host's engine it is saved from

	streams *steps.Limit // transfers at once, shared by every image of a run
	dir     string
	// mu guards what is read from the host once for every team: the archive, and files
	// read out of the image. A failure is not kept: one team's step that ran out of time
	// while the archive was written must not fail the next team, which tries again.
	mu    sync.Mutex
	path  string
	files map[string][]byte
}

// New describes image id on a host's engine e, to be known on nodes as nodeRef; dir holds
// its archive. Transfers into nodes wait for a slot of streams.
func New(e plan.Engine, nodeRef, id, dir string, streams *steps.Limit) *Image {
	return &Image{NodeRef: nodeRef, ID: id, Engine: e, dir: dir, streams: streams}
}

// HostID returns the ID of ref on a host's engine, or "" if the host does not have it.
func HostID(ctx context.Context, e plan.Engine, ref string) string {
	out, err := engine.Docker(ctx, e, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// archive saves the image by ID (which keeps host-side tags out of it) on first use.
func (i *Image) archive(ctx context.Context) (string, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.path != "" {
		return i.path, nil
	}
	path := filepath.Join(i.dir, strings.NewReplacer("/", "_", ":", "_").Replace(i.NodeRef)+".tar")
	if _, err := engine.Docker(ctx, i.Engine, "save", "-o", path, i.ID); err != nil {
		return "", fmt.Errorf("%s (%s): %w", i.NodeRef, i.ID, err)
	}
	i.path = path
	return path, nil
}

// ReadFile returns the file at path inside the image, read on the Docker host the first
// time a caller asks (a container of the image runs /bin/cat there), then from memory. A
// file copied out once on the host and streamed into nodes costs a node nothing but the
// transfer, where starting a container on every node is slow on a busy VM guest.
func (i *Image) ReadFile(ctx context.Context, path string) ([]byte, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if b, ok := i.files[path]; ok {
		return b, nil
	}
	out, err := engine.Docker(ctx, i.Engine, "run", "--rm", "--network", "none", "--entrypoint", "/bin/cat", i.ID, path)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): read %s: %w", i.NodeRef, i.ID, path, err)
	}
	if i.files == nil {
		i.files = map[string][]byte{}
	}
	i.files[path] = []byte(out)
	return i.files[path], nil
}

// Load streams the image into the node and tags it, unless the node already has it under
// its node name. It returns how long the transfer took, or 0 when it was skipped.
func Load(ctx context.Context, node steps.Node, i *Image) (time.Duration, error) {
	have, _ := node.Run.Run(ctx, "docker image inspect --format '{{.Id}}' "+i.NodeRef+" 2>/dev/null || true")
	if strings.TrimSpace(have) == i.ID {
		return 0, nil
	}
	path, err := i.archive(ctx)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	in := &countingReader{r: f}
	if st, err := f.Stat(); err == nil {
		steps.Progress(ctx, node.Name, func() string {
			return fmt.Sprintf("%d of %d MB of %s", in.n.Load()>>20, st.Size()>>20, i.NodeRef)
		})
	}
	start := time.Now()
	err = i.streams.Do(ctx, func() error {
		_, err := node.Run.RunWithInput(ctx, "docker load -q", in)
		return err
	})
	if err != nil {
		return 0, err
	}
	if _, err := node.Run.Run(ctx, fmt.Sprintf("docker tag %s %s", i.ID, i.NodeRef)); err != nil {
		return 0, err
	}
	return max(time.Since(start), time.Nanosecond), nil
}

// countingReader counts what has been read, for the step's heartbeat: a kind node image
// takes minutes to reach every node.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
