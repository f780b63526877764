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

// runScript runs a script with bash, the fake tools in bin first on PATH, and returns its
// output and exit code.
func runScript(t *testing.T, bin, path string, args ...string) (output string, code int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
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

			out, code := runScript(t, fakes, buildScript, languageName)
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
