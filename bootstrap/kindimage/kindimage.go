// Package kindimage builds labfleet's kind node image on a Docker host without any
// registry: the Kubernetes components, etcd, CoreDNS, crictl and labfleet's own pod network
// (labfleet-podnet) are built from the Go module proxy with the host's Go, pause with gcc,
// everything else comes from Debian's packages and kind's own module (its base image files).
// The component images are built, saved and imported into the node image's containerd, so a
// cluster starts with nothing to pull. Pins live in go.mod files under stacks/kindnode; the
// image carries a fingerprint of its inputs, so a build with nothing changed returns at once.
package kindimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

// Versions of what the image holds. stacks/kindnode/*/go.mod pin the same ones; a test
// checks. Its base files are those of the kind the main go.mod pins (day3.KindVersion).
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "3.7.0"
	CoreDNSVersion    = "v1.14.6"
)

// Ref is the node image's reference: labfleet:kindNodeImage's default.
const Ref = plan.DefaultKindNodeImage

// SourceDir is where the image's build files live in the labfleet module.
const SourceDir = "stacks/kindnode"

// InputsLabel is the image label holding the fingerprint of everything it was built from.
const InputsLabel = "labfleet.kindnode.inputs"

// Component is one image of the cluster, built from a target of SourceDir/Dockerfile, and
// the references kubeadm, containerd and the manifests know it by.
type Component struct {
	Target string
	Refs   []string
}

// Components are the images a cluster of this node image runs.
var Components = []Component{
	{"pause", []string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.2"}},
	{"etcd", []string{"registry.k8s.io/etcd:" + EtcdVersion + "-0"}},
	{"kube-apiserver", []string{"registry.k8s.io/kube-apiserver:" + KubernetesVersion}},
	{"kube-controller-manager", []string{"registry.k8s.io/kube-controller-manager:" + KubernetesVersion}},
	{"kube-scheduler", []string{"registry.k8s.io/kube-scheduler:" + KubernetesVersion}},
	{"kube-proxy", []string{"registry.k8s.io/kube-proxy:" + KubernetesVersion}},
	{"coredns", []string{"registry.k8s.io/coredns/coredns:" + CoreDNSVersion}},
	{"labfleet-podnet", []string{PodnetImage}},
}

// PodnetImage is labfleet-podnet's image, as manifests/default-cni.yaml names it.
const PodnetImage = "docker.io/labfleet/podnet:" + KubernetesVersion

// goBuild is one `go build` of commands of a module under SourceDir into the binaries.
type goBuild struct {
	module  string   // directory under SourceDir
	targets []string // packages: "tool" (the module's tool directives) or paths
	flags   []string
	// name is the binary's name for a single target whose package path does not end in it
	// (etcd's main package is go.etcd.io/etcd/server/v3); "" keeps Go's names.
	name string
}

// KubeLDFlags are the linker flags of a Kubernetes command at version (e.g. "v1.37.2"): the
// version variables Kubernetes' own build sets (hack/lib/version.sh), without which kubeadm
// sees a placeholder version and refuses to work, and no symbol tables.
func KubeLDFlags(version string) string {
	minor := strings.Split(strings.TrimPrefix(version, "v"), ".")[1]
	flags := "-s -w"
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		flags += fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=1 -X %[1]s.gitMinor=%[3]s -X %[1]s.gitTreeState=clean", pkg, version, minor)
	}
	return flags
}

var goBuilds = []goBuild{
	{"kubernetes", []string{"tool", "./cmd/labfleet-podnet"}, []string{"-tags", "selinux,notest,grpcnotrace", "-ldflags", KubeLDFlags(KubernetesVersion)}, ""},
	{"etcd", []string{"tool"}, []string{"-ldflags", "-s -w"}, "etcd"},
	{"coredns", []string{"tool"}, []string{"-ldflags", "-s -w"}, ""},
	{"cri-tools", []string{"tool"}, []string{"-ldflags", "-s -w"}, ""},
}

// DefaultCacheDir is where Day 3's builds (the node image's binaries and build context,
// kind and kubectl) are kept between runs when no other place is given: the user's cache
// directory, labfleet/.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "labfleet")
}

// Build makes sure the host whose engine is e has the node image Ref built from the module
// in repoDir, building what is missing in cacheDir. It returns the image's ID. Each stage
// is a step reported through ctx (steps.WithReporter) under team "".
func Build(ctx context.Context, repoDir, cacheDir string, e plan.Engine) (string, error) {
	src := filepath.Join(repoDir, SourceDir)
	kindFiles, err := moduleDir(ctx, repoDir, "sigs.k8s.io/kind")
	if err != nil {
		return "", err
	}
	inputs, err := fingerprint(src, kindFiles)
	if err != nil {
		return "", err
	}
	if id := builtFrom(ctx, e, inputs); id != "" {
		return id, nil
	}
	work := filepath.Join(cacheDir, "kindnode-"+KubernetesVersion)
	bin, contextDir := filepath.Join(work, "bin"), filepath.Join(work, "context")
	var id string
	err = steps.Run(ctx, "", []steps.Step{
		{Name: "build the Kubernetes, etcd, CoreDNS and crictl binaries", Timeout: 90 * time.Minute, Run: func(ctx context.Context) error {
			return buildBinaries(ctx, src, bin)
		}},
		{Name: "assemble the kind node image's build context", Timeout: 5 * time.Minute, Run: func(ctx context.Context) error {
			return assemble(src, kindFiles, bin, contextDir)
		}},
		{Name: "build the cluster's component images", Timeout: 20 * time.Minute, Run: func(ctx context.Context) error {
			return buildComponents(ctx, e, contextDir)
		}},
		{Name: "build the kind node image " + Ref, Timeout: 20 * time.Minute, Run: func(ctx context.Context) (err error) {
			defer os.Remove(filepath.Join(contextDir, "images.tar")) // hundreds of MB, in the image now
			if _, err = engine.Docker(ctx, e, "build", "-q", "--target", "node", "--label", InputsLabel+"="+inputs, "-t", Ref, contextDir); err != nil {
				return err
			}
			id = hostID(ctx, e, Ref)
			return nil
		}},
	})
	return id, err
}

// builtFrom returns the ID of Ref on the host if it was built from these inputs.
func builtFrom(ctx context.Context, e plan.Engine, inputs string) string {
	out, err := engine.Docker(ctx, e, "image", "inspect", "--format", "{{.Id}} {{index .Config.Labels \""+InputsLabel+"\"}}", Ref)
	if id, label, ok := strings.Cut(strings.TrimSpace(out), " "); err == nil && ok && label == inputs {
		return id
	}
	return ""
}

func hostID(ctx context.Context, e plan.Engine, ref string) string {
	out, _ := engine.Docker(ctx, e, "image", "inspect", "--format", "{{.Id}}", ref)
	return strings.TrimSpace(out)
}

// moduleDir is the directory of a module that the module in dir requires, at the version
// it pins, in the module cache (downloaded if need be).
func moduleDir(ctx context.Context, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s (in %s): %v %s", module, dir, err, m.Error)
	}
	return m.Dir, nil
}

// fingerprint hashes every file the image is built from: SourceDir (Dockerfile, manifests,
// go.mod and go.sum pins, labfleet-podnet's source), kind's base files, and the Go release.
func fingerprint(src, kindDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %s\n", runtime.Version(), KubernetesVersion, kindDir)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(src, path)
		fmt.Fprintf(h, "%s\n", rel)
		_, err = io.Copy(h, f)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:32], err
}

// buildBinaries builds every binary the images hold into bin. Go's build cache makes a
// rebuild with nothing changed a matter of linking.
func buildBinaries(ctx context.Context, src, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for _, b := range goBuilds {
		out := bin + "/"
		if b.name != "" {
			out = filepath.Join(bin, b.name)
		}
		args := slices.Concat([]string{"build", "-trimpath"}, b.flags, []string{"-o", out}, b.targets)
		if err := run(ctx, filepath.Join(src, b.module), []string{"CGO_ENABLED=0"}, "go", args...); err != nil {
			return fmt.Errorf("building %s: %w", b.module, err)
		}
	}
	// pause is C: Kubernetes ships its source in the module.
	kube, err := moduleDir(ctx, filepath.Join(src, "kubernetes"), "k8s.io/kubernetes")
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return fmt.Errorf("building pause needs gcc (apt-get install gcc libc6-dev): %w", err)
	}
	return run(ctx, bin, nil, "gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=v3.10.2-labfleet", "-o", "pause", filepath.Join(kube, "build/pause/linux/pause.c"))
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s (in %s): %v: %s", name, strings.Join(args, " "), dir, err, lastLines(string(out), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// assemble lays out the build context: the Dockerfile, manifests and labfleet's entrypoint,
// kind's base files, the binaries, and the version kind reads.
func assemble(src, kindDir, bin, contextDir string) error {
	if err := os.RemoveAll(contextDir); err != nil {
		return err
	}
	for _, c := range []struct{ from, to string }{
		{filepath.Join(src, "Dockerfile"), "Dockerfile"},
		{filepath.Join(src, "manifests"), "manifests"},
		{filepath.Join(src, "node"), "node"},
		{filepath.Join(kindDir, "images/base/files"), "files"},
		{bin, "bin"},
	} {
		if err := copyTree(c.from, filepath.Join(contextDir, c.to)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(contextDir, "version"), []byte(KubernetesVersion+"\n"), 0o644)
}

// copyTree copies a file or a directory tree; files keep their executable bits.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dest := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dest, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644|info.Mode().Perm()&0o111)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// buildComponents builds each component image, saves them all into the context's
// images.tar for the node image, and removes them from the host again: only the node image
// stays, as the cache of the next cohort.
func buildComponents(ctx context.Context, e plan.Engine, contextDir string) error {
	var refs []string
	for _, c := range Components {
		args := []string{"build", "-q", "--target", c.Target}
		for _, r := range c.Refs {
			args = append(args, "-t", r)
		}
		if _, err := engine.Docker(ctx, e, append(args, contextDir)...); err != nil {
			return fmt.Errorf("component %s: %w", c.Target, err)
		}
		refs = append(refs, c.Refs...)
	}
	if _, err := engine.Docker(ctx, e, append([]string{"save", "-o", filepath.Join(contextDir, "images.tar")}, refs...)...); err != nil {
		return err
	}
	_, err := engine.Docker(ctx, e, append([]string{"rmi"}, refs...)...)
	return err
}
