package infra

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/images"
	"github.com/labfleet/labfleet/bootstrap/kindimage"
	"github.com/labfleet/labfleet/stacks/day2"
)

// stageLabels returns, per stage of a Dockerfile ("" for the last one, which a build with no
// target makes), the value of its BuiltLabel LABEL, if any.
func stageLabels(t *testing.T, dockerfile string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	labels, stage := map[string]string{}, ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && strings.EqualFold(f[0], "FROM"):
			stage = ""
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				stage = f[3]
			}
			delete(labels, "") // only the last stage is the default target
		case len(f) == 2 && f[0] == "LABEL":
			if k, v, ok := strings.Cut(f[1], "="); ok && k == images.BuiltLabel {
				labels[stage], labels[""] = v, v
			}
		}
	}
	return labels
}

// `make clean-images` finds labfleet's images by their label: every image the program and
// the kind node image build make carries it.
func TestEveryImageLabfleetBuildsCarriesItsLabel(t *testing.T) {
	builds := []struct{ dockerfile, target string }{
		{NodeImageContext + "/Dockerfile", ""},
		{VMImageDockerfile, ""},
		{kindimage.SourceDir + "/Dockerfile", "node"},
	}
	for _, img := range day2.Images {
		builds = append(builds, struct{ dockerfile, target string }{day2.AppsContext + "/Dockerfile", img.Target})
	}
	for _, b := range builds {
		if stageLabels(t, b.dockerfile)[b.target] == "" {
			t.Errorf("%s, target %q: no LABEL %s=...", b.dockerfile, b.target, images.BuiltLabel)
		}
	}
}

// The legacy builder, as the provider drives it, keeps every intermediate container: after
// `make up` and `make destroy` here, 25 stopped containers were left. BuildKit keeps none.
func TestEveryImageIsBuiltWithBuildKit(t *testing.T) {
	r := runProgram(t, true, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	built := r.m.ofType("docker:index/image:Image")
	if len(built) != 3 {
		t.Fatalf("%d images built, want the node image and two lab images", len(built))
	}
	for _, img := range built {
		if v := img.inputs["build"].ObjectValue()["builderVersion"]; v.StringValue() != "BuilderBuildKit" {
			t.Errorf("%s is built with %v", img.name, v)
		}
	}
}

// The VM image's context is infra/, narrowed by its Dockerfile's own ignore file to the
// folders it copies from; a COPY from anywhere else would find nothing there.
func TestTheVMImageContextHoldsWhatItsDockerfileCopies(t *testing.T) {
	ignore, err := os.ReadFile(filepath.Join("..", VMImageDockerfile+".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(ignore), "\n") {
		if dir, ok := strings.CutPrefix(strings.TrimSpace(line), "!"); ok {
			kept = append(kept, dir+"/")
		}
	}
	if !strings.Contains(string(ignore), "\n*\n") || len(kept) == 0 {
		t.Fatalf("%s.dockerignore should leave out everything (*) but the folders the image copies from (!dir); it keeps %q", VMImageDockerfile, kept)
	}
	dockerfile, err := os.ReadFile(filepath.Join("..", VMImageDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, line := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" || strings.HasPrefix(f[1], "--from") {
			continue
		}
		copies++
		for _, src := range f[1 : len(f)-1] {
			if !slices.ContainsFunc(kept, func(dir string) bool { return strings.HasPrefix(src, dir) }) {
				t.Errorf("%s copies %s, which its .dockerignore leaves out of the context (it keeps %q)", VMImageDockerfile, src, kept)
			}
		}
	}
	if copies == 0 {
		t.Fatalf("found no COPY from the context in %s", VMImageDockerfile)
	}
}
