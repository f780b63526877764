package kindimage

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/plan"
)

func source(t *testing.T, path ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", SourceDir}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The versions the image says it holds are the ones its go.mod files pin, the default node
// image is this one, and the pod network's manifest names the image the build tags.
func TestPinsAgree(t *testing.T) {
	for _, pin := range []struct{ file, module, version string }{
		{"kubernetes/go.mod", "k8s.io/kubernetes", KubernetesVersion},
		{"kubernetes/go.mod", "k8s.io/client-go", "v0" + strings.TrimPrefix(KubernetesVersion, "v1")},
		{"etcd/go.mod", "go.etcd.io/etcd/server/v3", "v" + EtcdVersion},
		{"coredns/go.mod", "github.com/coredns/coredns", CoreDNSVersion},
	} {
		if !regexp.MustCompile(`(?m)^\s*(require )?` + regexp.QuoteMeta(pin.module) + ` ` + regexp.QuoteMeta(pin.version) + `\b`).MatchString(source(t, pin.file)) {
			t.Errorf("%s does not pin %s %s", pin.file, pin.module, pin.version)
		}
	}
	if Ref != "labfleet/kind-node:"+KubernetesVersion || plan.Defaults("c").KindNodeImage != Ref {
		t.Errorf("the default kind node image is %s, this build makes %s", plan.Defaults("c").KindNodeImage, Ref)
	}
	if manifest := source(t, "manifests", "default-cni.yaml"); !strings.Contains(manifest, "image: "+PodnetImage+"\n") || !strings.Contains(manifest, "would you kindly template this file") {
		t.Errorf("manifests/default-cni.yaml does not run %s as a kind template", PodnetImage)
	}
	for _, c := range Components {
		if !strings.Contains(source(t, "Dockerfile"), " AS "+c.Target+"\n") {
			t.Errorf("the Dockerfile has no target %s", c.Target)
		}
	}
}

// A change to any input gives another fingerprint; the same inputs give the same one.
func TestTheFingerprintFollowsTheInputs(t *testing.T) {
	src, kind := t.TempDir(), t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\n")
	first, err := fingerprint(src, kind)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fingerprint(src, kind); again != first {
		t.Error("the same inputs gave two fingerprints")
	}
	write("Dockerfile", "FROM scratch AS node\n")
	if changed, _ := fingerprint(src, kind); changed == first {
		t.Error("a changed Dockerfile kept the fingerprint")
	}
	if other, _ := fingerprint(src, filepath.Join(kind, "v0.34.0")); other == first {
		t.Error("another kind kept the fingerprint")
	}
}

// Go's module cache holds read-only files without executable bits; the context keeps what
// the binaries have.
func TestCopyTreeKeepsExecutableBits(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "ctx")
	if err := os.WriteFile(filepath.Join(from, "kubelet"), []byte("x"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(from, "readme"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(from, to); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"kubelet": 0o755, "readme": 0o644} {
		if st, err := os.Stat(filepath.Join(to, name)); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", name, st.Mode(), err, want)
		}
	}
}
