package prereq

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The scripts the check runs, run for real against fake tools first on PATH. Each runs from a
// copy in a temporary project, so that nothing they write lands in this checkout.

// copyScript copies the project's script at rel into a temporary project and returns the copy.
func copyScript(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), rel)
	mkdir(t, filepath.Dir(copied))
	if err := os.WriteFile(copied, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return copied
}

// linkTools links the real programs named into bin, which will be a script's whole PATH: next to
// the fakes, only what the script needs (no real dockerd, apt-get, go or ssh of this machine).
func linkTools(t *testing.T, bin string, names ...string) {
	t.Helper()
	mkdir(t, bin)
	for _, name := range names {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(path, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// runScript runs a script with bash, bin as its PATH and the extra environment, and returns its
// output and exit code.
func runScript(t *testing.T, bin, path string, env []string, args ...string) (output string, code int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATH="+bin), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code = exitCode(t, cmd)
	return out.String(), code
}

// exitCode runs cmd and returns its exit code; a command that cannot start fails the test.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// tools/build.sh builds the Go language host in a copy of the sdk/v3 module directory that
// `go mod download -json` names; without a usable one it must stop before copying anything.
func TestToolsBuildFindsTheLanguageHostModule(t *testing.T) {
	module := t.TempDir()
	mkdir(t, filepath.Join(module, "go", languageName))
	tests := []struct {
		name     string
		download string // what `go mod download -json` prints
		failing  bool   // and whether it fails
		built    bool
		says     string // part of the output
	}{
		{"the module directory", fmt.Sprintf("{\n\t\"Path\": \"github.com/pulumi/pulumi/sdk/v3\",\n\t\"Dir\": \"%s\",\n\t\"Sum\": \"h1:x\"\n}", module), false, true, ""},
		{"no directory in go's answer", "{\n\t\"Path\": \"github.com/pulumi/pulumi/sdk/v3\",\n\t\"Version\": \"v3.62.0\"\n}", false, false,
			`no module directory holding go/pulumi-language-go (Dir: "")`},
		{"a directory without the language host", fmt.Sprintf("{\n\t\"Dir\": \"%s\"\n}", t.TempDir()), false, false,
			"no module directory holding go/pulumi-language-go"},
		{"go mod download fails", "{\n\t\"Error\": \"github.com/pulumi/pulumi/sdk/v3@v3.62.0: dial tcp: no such host\"\n}", true, false,
			"dial tcp: no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buildScript := copyScript(t, toolsBuild)
			fakes := t.TempDir()
			linkTools(t, fakes, "dirname", "mkdir", "mktemp", "rm", "sed", "grep", "chmod", "cat")
			answer := script(t, filepath.Join(fakes, "download-answer"), fmt.Sprintf("cat <<'EOF'\n%s\nEOF\n[ %t = false ]", tt.download, tt.failing))
			builtIn := filepath.Join(fakes, "built-in")
			script(t, filepath.Join(fakes, "go"), fmt.Sprintf(`case "$1 $2" in
"list -m") echo v3.274.1 ;;
"mod download") exec '%s' ;;
"build -o") pwd > '%s' && printf '#!/bin/sh\n' > "$3" && chmod +x "$3" ;;
*) exit 1 ;;
esac`, answer, builtIn))
			// Refuses the root, should the guard ever let an empty directory through.
			copies := filepath.Join(fakes, "copies")
			script(t, filepath.Join(fakes, "cp"), fmt.Sprintf(`echo "$*" >> '%s'
case "$2" in /|/.) exit 1 ;; esac
exec /bin/cp "$@"`, copies))

			out, code := runScript(t, fakes, buildScript, nil, languageName)
			t.Logf("tools/build.sh:\n%s", out)
			built := isExecutable(filepath.Join(filepath.Dir(buildScript), "bin", languageName))
			if (code == 0) != tt.built || built != tt.built || !strings.Contains(out, tt.says) {
				t.Errorf("exit %d, built %v, want built %v and output with %q", code, built, tt.built, tt.says)
			}
			copied, _ := os.ReadFile(copies)
			if !tt.built && len(copied) > 0 {
				t.Errorf("tools/build.sh copied %q without a module directory", copied)
			}
			if tt.built {
				from, _ := os.ReadFile(builtIn)
				if !strings.HasPrefix(string(copied), "-r "+module+"/. ") || strings.TrimSpace(string(from)) == module {
					t.Errorf("copied %q and built in %q, want a copy of %s", copied, from, module)
				}
			}
		})
	}
}

// .ci/docker-host.sh starts an installed dockerd and never reinstalls it, installs docker.io
// only where no dockerd is installed (apt would replace Docker CE), and debootstrap only where
// the base image has to be made. The machine's tools are fakes: apt-get "installs" a package by
// putting its fake commands on PATH, dockerd and systemctl start an "engine" that docker info
// then finds.
func TestDockerHostInstallsOnlyWhatIsMissing(t *testing.T) {
	// On a machine booted with systemd the script starts the docker unit (the fake systemctl has
	// one), elsewhere it starts dockerd itself.
	startedBy := "nohup dockerd"
	if exists("/run/systemd/system") {
		startedBy = "systemctl start docker"
	}
	tests := []struct {
		name      string
		installed []string // the fake machine's packages: docker.io (dockerd), debootstrap, openssh-client (ssh)
		running   bool     // the engine answers
		image     bool     // debian:trixie-slim is there
		apt       string   // the apt-get runs, one per line
		started   string   // how the engine was started; "" for not at all
		says      string   // part of the output
	}{
		{"engine running, image there", []string{"docker.io", "openssh-client"}, true, true,
			"", "", "the Docker engine answers: nothing to start"},
		{"Docker CE installed and stopped", []string{"docker.io", "openssh-client"}, false, true,
			"", startedBy, "starting the installed dockerd"},
		{"fresh machine: only the docker CLI", nil, false, false,
			"update -qq\\ninstall -y -qq docker.io iptables debootstrap openssh-client", startedBy, "building debian:trixie-slim with debootstrap"},
		{"engine installed, base image missing", []string{"docker.io", "openssh-client"}, true, false,
			"update -qq\\ninstall -y -qq debootstrap", "", "building debian:trixie-slim with debootstrap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostScript := copyScript(t, filepath.Join(".ci", "docker-host.sh"))
			state := t.TempDir()
			bin := filepath.Join(state, "bin")
			linkTools(t, bin, "seq", "sleep", "awk", "tail", "mktemp", "rm", "tar", "nohup")
			stateFile := func(name string) string { return filepath.Join(state, name) }
			script(t, filepath.Join(bin, "docker"), fmt.Sprintf(`cd '%s' || exit 1
case "$1" in
info) [ -e running ] ;;
version) [ -e running ] && echo engine 20.10.24 ;;
image) [ -e image ] ;;
import) /bin/cat > import.tar && : > image ;;
*) exit 1 ;;
esac`, state))
			// What each package puts on PATH.
			packages := filepath.Join(state, "packages")
			script(t, filepath.Join(packages, "docker.io", "dockerd"), fmt.Sprintf(`echo nohup dockerd >> '%s' && : > '%s'`, stateFile("started"), stateFile("running")))
			script(t, filepath.Join(packages, "debootstrap", "debootstrap"), `/bin/mkdir -p "$3/etc" && echo trixie > "$3/etc/debian_version"`)
			script(t, filepath.Join(packages, "openssh-client", "ssh"), "exit 0")
			install := func(pkg string) {
				entries, err := os.ReadDir(filepath.Join(packages, pkg))
				if err != nil {
					return
				}
				for _, e := range entries {
					if err := os.Symlink(filepath.Join(packages, pkg, e.Name()), filepath.Join(bin, e.Name())); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, pkg := range tt.installed {
				install(pkg)
			}
			script(t, filepath.Join(bin, "apt-get"), fmt.Sprintf(`echo "$*" >> '%s'
[ "$1" = install ] || exit 0
for pkg; do [ -d '%s'/"$pkg" ] && for cmd in '%s'/"$pkg"/*; do /bin/ln -sf "$cmd" '%s'; done; done
exit 0`, stateFile("apt"), packages, packages, bin))
			script(t, filepath.Join(bin, "systemctl"), fmt.Sprintf(`case "$*" in
"cat docker.service") exit 0 ;;
"start docker") echo systemctl start docker >> '%s' && : > '%s' ;;
*) exit 1 ;;
esac`, stateFile("started"), stateFile("running")))
			if tt.running {
				writeFile(t, stateFile("running"), "")
			}
			if tt.image {
				writeFile(t, stateFile("image"), "")
			}

			out, code := runScript(t, bin, hostScript, []string{"DOCKERD_LOG=" + stateFile("dockerd.log")})
			t.Logf(".ci/docker-host.sh:\n%s", out)
			if code != 0 || !strings.Contains(out, tt.says) || !strings.Contains(out, "ready: engine 20.10.24 with debian:trixie-slim") {
				t.Errorf("exit %d, want 0 and output with %q and the ready line", code, tt.says)
			}
			apt, _ := os.ReadFile(stateFile("apt"))
			if got, want := strings.TrimSpace(string(apt)), strings.ReplaceAll(tt.apt, `\n`, "\n"); got != want {
				t.Errorf("apt-get ran with\n%s\nwant\n%s", got, want)
			}
			started, _ := os.ReadFile(stateFile("started"))
			if got := strings.TrimSpace(string(started)); got != tt.started {
				t.Errorf("engine started by %q, want %q", got, tt.started)
			}
			if tt.started != "" && !strings.Contains(out, strings.Fields(tt.started)[0]) {
				t.Errorf("the script did not say how it started the engine (%s)", tt.started)
			}
			if imported := exists(stateFile("import.tar")); imported == tt.image {
				t.Errorf("base image imported: %v, want %v", imported, !tt.image)
			}
		})
	}
}
