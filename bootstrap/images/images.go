// Package images moves Docker images from the Docker host into node containers without a
// registry: `docker save` once on the host, then `docker load` over SSH into every node that
// does not already have the same image ID, and tag it with the name the node uses.
package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Runner runs a shell command on a node, optionally with stdin.
type Runner interface {
	Run(ctx context.Context, cmd string) (string, error)
	RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error)
}

// Archive is an image saved from the Docker host, and the name it gets on nodes.
type Archive struct {
	NodeRef string // e.g. "improved-app:latest" or "kindest/node:v1.37.0"
	ID      string // image ID, which `docker load` keeps
	Path    string // `docker save` archive on the host
}

// HostID returns the ID of ref on the Docker host, or "" if the host does not have it.
func HostID(ctx context.Context, ref string) string {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Save writes image id to dir with `docker save`. Saving by ID keeps host-side tags out of
// the archive; Load tags the image on the node.
func Save(ctx context.Context, dir, name, id, nodeRef string) (Archive, error) {
	path := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(name)+".tar")
	if msg, err := exec.CommandContext(ctx, "docker", "save", "-o", path, id).CombinedOutput(); err != nil {
		return Archive{}, fmt.Errorf("docker save %s (%s): %v: %s", name, id, err, strings.TrimSpace(string(msg)))
	}
	return Archive{NodeRef: nodeRef, ID: id, Path: path}, nil
}

// NodeHas reports whether the node already has the image under its node name.
func NodeHas(ctx context.Context, node Runner, a Archive) bool {
	have, _ := node.Run(ctx, "docker image inspect --format '{{.Id}}' "+a.NodeRef+" 2>/dev/null || true")
	return strings.TrimSpace(have) == a.ID
}

// Load streams the archive into the node unless it already has the image. It returns how
// long the transfer took, or 0 when it was skipped.
func Load(ctx context.Context, node Runner, a Archive) (time.Duration, error) {
	if NodeHas(ctx, node, a) {
		return 0, nil
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	if _, err := node.RunWithInput(ctx, "docker load -q", f); err != nil {
		return 0, err
	}
	if _, err := node.Run(ctx, fmt.Sprintf("docker tag %s %s", a.ID, a.NodeRef)); err != nil {
		return 0, err
	}
	return max(time.Since(start), time.Nanosecond), nil
}
