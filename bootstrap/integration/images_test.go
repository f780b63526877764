package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/model/plan"
)

// importImage makes a one-file image named ref from nothing (no registry, no base image),
// with the given LABEL instruction ("" for none), and returns its ID.
func importImage(t *testing.T, ref, content, label string) string {
	t.Helper()
	var archive bytes.Buffer
	w := tar.NewWriter(&archive)
	if err := w.WriteHeader(&tar.Header{Name: "content", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	w.Close()
	args := []string{"import"}
	if label != "" {
		args = append(args, "--change", "LABEL "+label)
	}
	cmd := exec.Command("docker", append(args, "-", ref)...)
	cmd.Stdin = &archive
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker import %s: %v: %s", ref, err, out)
	}
	return strings.TrimSpace(string(out))
}

// make clean-images removes every image labfleet built, under every name and in every older
// build, keeps an image a container still uses (naming it), and leaves other images alone.
// The images here carry a label value of their own, so the other tests' images stay.
func TestCleanImagesRemovesExactlyWhatLabfleetBuilt(t *testing.T) {
	requireEngine(t)
	ctx := context.Background()
	label := images.BuiltLabel + "=clean-test"
	t.Cleanup(func() {
		docker(context.Background(), "rm", "-f", "lfit-clean-user")
		docker(context.Background(), "rmi", "lfit-clean-theirs:1", "lfit-clean-inuse:1")
	})
	importImage(t, "lfit-clean-built:1", "v1", label)
	if _, err := docker(ctx, "tag", "lfit-clean-built:1", "lfit-clean-built:alias"); err != nil {
		t.Fatal(err)
	}
	older := importImage(t, "lfit-clean-rebuilt:1", "old", label)
	importImage(t, "lfit-clean-rebuilt:1", "new", label) // the older build is left untagged
	theirs := importImage(t, "lfit-clean-theirs:1", "someone else's", "")
	inUse := importImage(t, "lfit-clean-inuse:1", "in use", label)
	if _, err := docker(ctx, "create", "--name", "lfit-clean-user", "lfit-clean-inuse:1", "/content"); err != nil {
		t.Fatal(err)
	}

	removed, err := images.RemoveBuilt(ctx, plan.Engine{}, label)
	if err == nil || !strings.Contains(err.Error(), "lfit-clean-inuse:1") || !strings.Contains(err.Error(), "make destroy first") {
		t.Errorf("err = %v, want the image in use named", err)
	}
	for _, want := range []string{"lfit-clean-built:1", "lfit-clean-built:alias", "lfit-clean-rebuilt:1", older} {
		if !slices.Contains(removed, want) {
			t.Errorf("removed %q, want %s among them", removed, want)
		}
	}
	left, _ := docker(ctx, "images", "--all", "--no-trunc", "--filter", "label="+label, "--format", "{{.ID}}")
	if got := strings.Fields(left); !slices.Equal(got, []string{inUse}) {
		t.Errorf("labelled images left: %q, want only the one in use %s", got, inUse)
	}
	if id, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", "lfit-clean-theirs:1"); err != nil || strings.TrimSpace(id) != theirs {
		t.Errorf("an image labfleet did not build was touched: %q, %v", id, err)
	}
}
