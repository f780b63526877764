// Package prereq checks, before any Pulumi command of the Makefile, that this machine has what
// `pulumi up` of labfleet needs: a Docker engine, the Pulumi CLI, its Go language host and the
// docker resource plugin at the version go.mod pins. It fixes what it can without asking (starts
// the engine on Debian and Ubuntu, builds the pinned CLI into tools/bin, has Pulumi install the
// plugin) and reports each tool as found (version, path) or missing with the exact fix.
package prereq

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// Machine is where the check looks and what it may run; the tests point it at fake tools.
type Machine struct {
	Project    string    // the labfleet checkout: go.mod, tools/build.sh, .ci/docker-host.sh
	Path       string    // PATH: where tools are looked for, and the PATH of every command run
	PulumiHome string    // $PULUMI_HOME, else ~/.pulumi: the plugin cache is its plugins folder
	OSRelease  string    // os-release file: .ci/docker-host.sh installs an engine on Debian and Ubuntu only
	Root       bool      // .ci/docker-host.sh installs packages and starts dockerd: it needs root
	Progress   io.Writer // what the check does, while it does it
}

// ThisMachine is the machine the check runs on, for the labfleet checkout in project.
func ThisMachine(project string) (Machine, error) {
	home := os.Getenv("PULUMI_HOME")
	if home == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			return Machine{}, fmt.Errorf("finding Pulumi's home (set PULUMI_HOME): %w", err)
		}
		home = filepath.Join(userHome, ".pulumi")
	}
	return Machine{
		Project:    project,
		Path:       os.Getenv("PATH"),
		PulumiHome: home,
		OSRelease:  "/etc/os-release",
		Root:       os.Geteuid() == 0,
		Progress:   os.Stderr,
	}, nil
}

// Status says whether a tool is there and what the check did to get it.
type Status string

const (
	Found        Status = "found"
	Started      Status = "started"   // the check started it (the Docker engine)
	Built        Status = "built"     // the check built it into tools/bin
	Installed    Status = "installed" // the check had Pulumi install it
	Missing      Status = "MISSING"
	WrongVersion Status = "WRONG VERSION"
)

// OK says whether `pulumi up` can use the tool.
func (s Status) OK() bool { return s != Missing && s != WrongVersion }

// Row is one line of the table.
type Row struct {
	Tool    string
	Status  Status
	Version string // found, or needed when missing
	Path    string
	Fix     string // what to do, when the status is not OK
}

// Check looks for every prerequisite of `pulumi up`, fixing what it can, in the order the
// fixes need: the language host is built with the CLI, the plugin is installed by the CLI.
func Check(ctx context.Context, m Machine) []Row {
	rows := []Row{CheckEngine(ctx, m)}
	rows = append(rows, m.pulumiTools(ctx, cliName, languageName)...)
	cli := rows[1]
	return append(rows, m.dockerPlugin(ctx, cli))
}

// CheckCLI finds the Pulumi CLI, building the pinned one where none is on PATH: all that the
// commands reading a stack's outputs and config need. It starts no engine and installs no
// plugin, so it works offline and without Docker.
func CheckCLI(ctx context.Context, m Machine) Row {
	return m.pulumiTools(ctx, cliName)[0]
}

// CheckEngine finds a Docker engine that answers, and starts one the way `make docker-host`
// does where that can work: an installed dockerd is only started, docker.io is installed only
// where there is no dockerd at all.
func CheckEngine(ctx context.Context, m Machine) Row {
	row := Row{Tool: "Docker engine"}
	row.Path, row.Version = m.dockerEngine(ctx)
	if row.Version != "" {
		row.Status = Found
		return row
	}
	row.Status = Missing
	switch {
	case !m.debianLike():
		row.Fix = "install and start a Docker engine (https://docs.docker.com/engine/install/); `docker info` must answer"
		return row
	case !m.Root:
		// A user's PATH often lacks /usr/sbin, where docker.io puts dockerd: whether one is
		// installed is for the script, run as root, to find out.
		row.Fix = "run `sudo make docker-host` (starts the installed dockerd; installs docker.io from Debian only where there is none)"
		return row
	}
	if dockerd := m.lookPath("dockerd"); dockerd != "" {
		fmt.Fprintf(m.Progress, "prereq: no Docker engine answers: starting the installed %s with `bash .ci/docker-host.sh`, as `make docker-host` does\n", dockerd)
	} else {
		fmt.Fprintln(m.Progress, "prereq: no Docker engine answers and no dockerd is installed: installing docker.io from Debian and starting it with `bash .ci/docker-host.sh`, as `make docker-host` does")
	}
	if err := m.run(ctx, m.Progress, "bash", filepath.Join(m.Project, ".ci", "docker-host.sh")); err != nil {
		row.Fix = fmt.Sprintf("`bash .ci/docker-host.sh` failed (%v; its output is above)", err)
		return row
	}
	row.Path, row.Version = m.dockerEngine(ctx)
	if row.Version == "" {
		row.Fix = "`bash .ci/docker-host.sh` ran, yet no engine answers `docker info`: see its output above for dockerd's log"
		return row
	}
	row.Status = Started
	return row
}

// dockerEngine returns the docker CLI's path and the engine's version; no version when no
// engine answers.
func (m Machine) dockerEngine(ctx context.Context) (path, version string) {
	path = m.lookPath("docker")
	if path == "" {
		return "", ""
	}
	out, err := m.output(ctx, path, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return path, ""
	}
	return path, out
}

func (m Machine) debianLike() bool {
	data, err := os.ReadFile(m.OSRelease)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, value, _ := strings.Cut(line, "=")
		if key != "ID" && key != "ID_LIKE" {
			continue
		}
		for _, id := range strings.Fields(strings.Trim(value, `"'`)) {
			if id == "debian" || id == "ubuntu" {
				return true
			}
		}
	}
	return false
}

const (
	cliName      = "pulumi"
	languageName = "pulumi-language-go"
	pluginName   = "pulumi-resource-docker"
	// toolsBuild builds the pinned CLI and language host into toolsBin.
	toolsBuild = "tools/build.sh"
	toolsBin   = "tools/bin"
)

// pulumiTools finds the named tools (the CLI, the Go language host), one row each.
// tools/build.sh builds each that is missing, and checks each found in tools/bin, which it
// rebuilds when its pin has changed (and leaves alone, at once, otherwise).
func (m Machine) pulumiTools(ctx context.Context, names ...string) []Row {
	tools := filepath.Join(m.Project, toolsBin)
	var missing, build []string
	builtBefore := map[string]time.Time{}
	for _, name := range names {
		switch path := m.pulumiTool(name); {
		case path == "":
			missing = append(missing, name)
			build = append(build, name)
		case filepath.Dir(path) == tools:
			build = append(build, name)
			builtBefore[name] = modTime(path)
		}
	}
	fix := fmt.Sprintf("put %s on PATH (the Makefile does)", tools)
	if len(missing) > 0 {
		names := strings.Join(missing, " and ")
		fmt.Fprintf(m.Progress, "prereq: %s not found: building the pinned %s into %s (once: about 6 CPU-minutes, cached after)\n", names, names, toolsBin)
	}
	if len(build) > 0 {
		if err := m.run(ctx, m.Progress, "bash", append([]string{filepath.Join(m.Project, toolsBuild)}, build...)...); err != nil {
			fix = fmt.Sprintf("`bash %s` failed (%v; its output is above); or install Pulumi: https://www.pulumi.com/docs/install/", toolsBuild, err)
		}
	}

	rows := make([]Row, len(names))
	for i, name := range names {
		row := Row{Tool: name, Path: m.pulumiTool(name)}
		before, wasThere := builtBefore[name]
		switch {
		case row.Path == "":
			row.Status, row.Fix = Missing, fix
		case slices.Contains(missing, name) || wasThere && !modTime(row.Path).Equal(before):
			row.Status = Built
		default:
			row.Status = Found
		}
		if row.Path != "" {
			row.Version = m.pulumiToolVersion(ctx, name, row.Path)
		}
		rows[i] = row
	}
	return rows
}

// pulumiToolVersion asks the CLI (`pulumi version`) or the Go language host (GetPluginInfo,
// as Pulumi does) for its version.
func (m Machine) pulumiToolVersion(ctx context.Context, name, path string) string {
	if name == languageName {
		version, err := pluginVersion(ctx, path, m.env(), languageRuntime)
		return versionOrError(version, err)
	}
	version, err := m.output(ctx, path, "version")
	return versionOrError(version, err)
}

// pulumiTool finds the CLI or the Go language host where Pulumi would.
func (m Machine) pulumiTool(name string) string {
	if name == languageName {
		return m.languageHost()
	}
	return m.lookPath(name)
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// languageHost finds the Go language host where Pulumi does: on PATH, else next to the CLI.
func (m Machine) languageHost() string {
	if path := m.lookPath(languageName); path != "" {
		return path
	}
	cli := m.lookPath(cliName)
	if cli == "" {
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(cli); err == nil {
		cli = resolved
	}
	if next := filepath.Join(filepath.Dir(cli), languageName); isExecutable(next) {
		return next
	}
	return ""
}

// dockerPlugin finds pulumi-resource-docker at the version go.mod pins, or has the CLI install
// exactly that version (the version the program's resources ask Pulumi for).
func (m Machine) dockerPlugin(ctx context.Context, cli Row) Row {
	want, err := PinnedDockerPlugin(m.Project)
	if err != nil {
		return Row{Tool: pluginName, Status: Missing, Fix: err.Error()}
	}
	row := m.findDockerPlugin(ctx, want)
	if row.Status != Missing {
		return row
	}
	if !cli.Status.OK() {
		row.Fix = fmt.Sprintf("%s, and %s (above) to install it.\n  %s", pluginNeeded(want), cliName, m.pluginWhereToPut(want))
		return row
	}
	fmt.Fprintf(m.Progress, "prereq: %s %s not found: `pulumi plugin install resource docker %s`\n", pluginName, want, want)
	var out bytes.Buffer
	if err := m.run(ctx, &out, cli.Path, "plugin", "install", "resource", "docker", want); err != nil {
		row.Fix = fmt.Sprintf("%s,\n  and %s.\n  %s and rerun.", pluginNeeded(want), downloadFailure(out.String(), err), m.pluginWhereToPut(want))
		return row
	}
	row.Status, row.Path = Installed, m.pluginCachePath(want)
	return row
}

// FindPinnedDockerPlugin says whether Pulumi will find pulumi-resource-docker at the version
// go.mod pins (PinnedDockerPlugin) where it looks: on PATH, which Pulumi takes whatever its
// version (so another version there is an error), else in
// $PULUMI_HOME/plugins/resource-docker-v<version>/ (m.PulumiHome). Unlike Check it installs
// nothing and needs no network: for callers that run Pulumi only where it can work. It returns
// the plugin Pulumi would start, or an error saying what is missing or wrong and where to put
// the pinned version.
func FindPinnedDockerPlugin(ctx context.Context, m Machine) (path string, err error) {
	want, err := PinnedDockerPlugin(m.Project)
	if err != nil {
		return "", err
	}
	row := m.findDockerPlugin(ctx, want)
	if row.Status != Found {
		return "", fmt.Errorf("%s %s: %s", pluginName, row.Status, row.Fix)
	}
	return row.Path, nil
}

// findDockerPlugin looks for the docker plugin at version want where Pulumi does, installing
// nothing: found, another version on PATH, or missing (with where to put it).
func (m Machine) findDockerPlugin(ctx context.Context, want string) Row {
	row := Row{Tool: pluginName, Status: Missing, Version: want}
	cached := m.pluginCachePath(want)
	// Pulumi takes a plugin on PATH before its plugin folder, whatever the plugin's version.
	if path := m.lookPath(pluginName); path != "" {
		row.Path = path
		got, err := pluginVersion(ctx, path, m.env(), resourceProvider)
		if err != nil {
			row.Version = versionOrError(got, err)
			row.Status = Found
			return row
		}
		row.Version = "v" + strings.TrimPrefix(got, "v")
		if row.Version != want {
			row.Status = WrongVersion
			row.Fix = fmt.Sprintf("%s,\n  and Pulumi would use this one on PATH instead: put %s there, or take it off PATH so Pulumi uses %s", pluginNeeded(want), want, cached)
			return row
		}
		row.Status = Found
		return row
	}
	if isExecutable(cached) && !exists(filepath.Dir(cached)+".partial") {
		row.Status, row.Path = Found, cached
		return row
	}
	row.Fix = fmt.Sprintf("%s.\n  %s and rerun.", pluginNeeded(want), m.pluginWhereToPut(want))
	return row
}

// pluginNeeded says which docker plugin version `pulumi up` needs, and why that one.
func pluginNeeded(want string) string {
	return fmt.Sprintf("`pulumi up` needs %s %s (go.mod pins %s %s)", pluginName, want, dockerSDK, want)
}

// pluginWhereToPut says where Pulumi looks for the docker plugin at version want.
func (m Machine) pluginWhereToPut(want string) string {
	return fmt.Sprintf("Pulumi looks for it on PATH (whatever its version), then at %s:\n  put %s %s in either place", m.pluginCachePath(want), pluginName, want)
}

// dockerSDK is the module whose version is the docker plugin's version: the generated SDK asks
// Pulumi for the provider release it was generated from.
const dockerSDK = "github.com/pulumi/pulumi-docker/sdk/v4"

// PinnedDockerPlugin is the docker plugin version the program needs: its SDK's version in go.mod.
func PinnedDockerPlugin(project string) (string, error) {
	return pinnedVersion(filepath.Join(project, "go.mod"), dockerSDK)
}

func pinnedVersion(goMod, module string) (string, error) {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax(goMod, data, nil)
	if err != nil {
		return "", err
	}
	for _, r := range f.Require {
		if r.Mod.Path == module {
			return r.Mod.Version, nil
		}
	}
	return "", fmt.Errorf("%s requires no %s", goMod, module)
}

// pluginCachePath is where Pulumi installs a docker plugin version:
// $PULUMI_HOME/plugins/resource-docker-v4.10.0/pulumi-resource-docker.
func (m Machine) pluginCachePath(version string) string {
	return filepath.Join(m.PulumiHome, "plugins", "resource-docker-"+version, pluginName)
}

// commandTimeout bounds the commands that only report (versions), not those that fix.
const commandTimeout = 30 * time.Second

// output runs a command that reports and returns its trimmed stdout.
func (m Machine) output(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = m.env()
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// run runs a command that fixes something, its output going to w.
func (m Machine) run(ctx context.Context, w io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = m.env()
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

// env is this process's environment with the machine's PATH and Pulumi home.
func (m Machine) env() []string {
	return append(os.Environ(), "PATH="+m.Path, "PULUMI_HOME="+m.PulumiHome, "PULUMI_SKIP_UPDATE_CHECK=true")
}

// lookPath finds an executable on the machine's PATH (not this process's).
func (m Machine) lookPath(name string) string {
	for _, dir := range filepath.SplitList(m.Path) {
		if dir == "" {
			continue
		}
		if path := filepath.Join(dir, name); isExecutable(path) {
			return path
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func versionOrError(version string, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("unknown (%v)", err)
	case version == "":
		return "unknown (it reports none)"
	}
	return version
}

// downloadFailure says in plain words why `pulumi plugin install` failed: no network, or
// Pulumi's own last words.
func downloadFailure(out string, err error) string {
	if i := strings.Index(out, "dial tcp"); i >= 0 {
		reason, _, _ := strings.Cut(out[i:], "\n")
		return "this machine cannot download it (offline: " + strings.TrimSpace(reason) + ")"
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return "`pulumi plugin install` failed: " + last
	}
	return "`pulumi plugin install` failed: " + err.Error()
}
