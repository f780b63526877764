package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/prereq"
)

// cliStack is the throwaway stack the real-CLI mode brings up, on its own ports and pool.
const cliStack = "lfbench-cli"

// The Makefile's tuning (its exports): the real-CLI mode runs pulumi without them, as an
// instructor types `pulumi up` for a real cohort, so the numbers are those of the plain
// commands the README gives.
var makefileTuning = []string{"PULUMI_PARALLEL", "GOFLAGS", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"}

// makeParallel is the Makefile's PULUMI_PARALLEL, the one setting plain commands can only get
// from a flag or the environment: the real-CLI mode also times up and destroy with it.
const makeParallel = 64

// cliRun times the plain `pulumi up --yes --skip-preview` of a cohort (the first one, and one
// with the program and images built), the same with nothing to do, `pulumi preview
// --expect-no-changes` and `pulumi destroy --yes --skip-preview`, then up and destroy with
// the Makefile's parallelism, against two floors measured in this run: the raw Docker floor (raw) and Pulumi's own, an
// empty Go program on the same CLI and language host (its no-op up and its destroy).
// It needs the pulumi CLI and the docker resource plugin; without them it says so.
func cliRun(ctx context.Context, teams int, raw measurement) error {
	pulumiPath, err := exec.LookPath("pulumi")
	if err != nil {
		fmt.Println("\nmode: Go API only. The real-CLI timings need `pulumi` on PATH (see the README, Quick start, and docs/first-run.md).")
		return nil
	}
	machine, err := prereq.ThisMachine(".")
	if err != nil {
		return err
	}
	if _, err := prereq.FindPinnedDockerPlugin(ctx, machine); err != nil {
		fmt.Printf("\nmode: Go API only. The real-CLI timings need the docker plugin go.mod pins: %v\n", err)
		return nil
	}
	dir, err := os.MkdirTemp("", "lfbench-cli-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	empty, err := emptyFloor(ctx, pulumiPath, dir)
	if err != nil {
		return fmt.Errorf("the empty program's floor: %w", err)
	}
	cli := pulumiCLI{path: pulumiPath, backend: dir, project: ".", stack: cliStack, log: filepath.Join(dir, "pulumi.log")}
	version, _ := cli.output("version")
	if err := cli.initStack(ctx); err != nil {
		return err
	}
	nodeMemory, err := cliNodeMemory(teams * 3)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"config", "set", "labfleet:teams", strconv.Itoa(teams)},
		{"config", "set", "labfleet:sshPortBase", "25200"},
		{"config", "set", "labfleet:addressPool", "172.21.0.0/16"},
		{"config", "set", "labfleet:nodeMemory", nodeMemory},
	} {
		if _, err := cli.time(ctx, nil, args...); err != nil {
			return err
		}
	}
	if _, err := cli.time(ctx, strings.NewReader("benchmark-seed-0123456789abcdef-0123"), "config", "set", "--secret", "labfleet:keySeed"); err != nil {
		return err
	}
	// Pulumi runs 4 resource operations per CPU at once, and only a flag or PULUMI_PARALLEL
	// changes that (Pulumi.yaml has no setting for it): an up and a destroy with the
	// Makefile's 64 show what that default costs on this machine.
	parallel := fmt.Sprintf("--parallel=%d", makeParallel)
	up, destroy := []string{"up", "--yes", "--skip-preview"}, []string{"destroy", "--yes", "--skip-preview"}
	// The first up also builds the images through the provider, whose build cache is not the
	// one the Go API's images came from (on a machine where it is cold: 64 s instead of 32 s):
	// it is reported apart from the up the target is about, which finds them built, as every
	// later run on a machine does.
	var firstUp, noop, preview, plainDestroy, plainUp, wideDestroy, wideUp time.Duration
	deployed := false
	defer func() {
		if deployed {
			cli.time(context.Background(), nil, destroy...)
		}
		cli.time(context.Background(), nil, "stack", "rm", "--yes", "--force")
	}()
	for _, step := range []struct {
		took *time.Duration
		args []string
	}{
		{&firstUp, up},
		{&noop, up},
		{&preview, []string{"preview", "--expect-no-changes"}},
		{&plainDestroy, destroy},
		{&plainUp, up},
		{&wideDestroy, append(slices.Clone(destroy), parallel)},
		{&wideUp, append(slices.Clone(up), parallel)},
	} {
		// An interrupted up or destroy may leave anything behind: the cleanup destroys.
		deployed = deployed || step.args[0] == "up"
		if *step.took, err = cli.time(ctx, nil, step.args...); err != nil {
			return err
		}
		deployed = step.args[0] != "destroy"
	}
	floor := raw.create + raw.ready
	fmt.Printf("\nmode: real pulumi CLI %s (%s), plain commands (none of the Makefile's settings), same %d teams x 3 nodes with the Day-2 lab (nodeMemory %s);\n", strings.TrimSpace(version), pulumiPath, teams, nodeMemory)
	fmt.Printf("floors from this run: raw Docker (above) and an empty Go program on the same CLI and language host\n\n")
	fmt.Printf("%-44s %12s %12s %12s  %s\n", "", "raw floor", "empty prog", "labfleet", "target")
	target := func(name string, rawFloor, emptyFloor, measured, limit time.Duration, rule string) {
		met := "met"
		if measured > limit {
			met = fmt.Sprintf("NOT met, %s over", (measured - limit).Round(time.Millisecond))
		}
		rawCol := "n/a"
		if rawFloor > 0 {
			rawCol = rawFloor.Round(time.Millisecond).String()
		}
		fmt.Printf("%-44s %12s %12s %12s  <= %s (%s): %s\n", name, rawCol, emptyFloor.Round(time.Millisecond), measured.Round(time.Millisecond), limit.Round(time.Millisecond), rule, met)
	}
	row := func(name string, measured time.Duration) {
		fmt.Printf("%-44s %12s %12s %12s\n", name, "n/a", "n/a", measured.Round(time.Millisecond))
	}
	row("first pulumi up (the provider builds images)", firstUp)
	target("pulumi up --yes --skip-preview", floor, empty.noop, plainUp, floor*5/4+empty.noop, "1.25 x raw + empty no-op")
	target("the same with nothing to do", 0, empty.noop, noop, empty.noop+time.Second, "empty no-op + 1s")
	row("pulumi preview --expect-no-changes", preview)
	target("pulumi destroy --yes --skip-preview", raw.remove, empty.destroy, plainDestroy, raw.remove+empty.destroy+time.Second, "raw removal + empty destroy + 1s")
	row("pulumi up ... "+parallel, wideUp)
	row("pulumi destroy ... "+parallel, wideDestroy)
	return nil
}

// cliNodeMemory is the nodeMemory of the real-CLI cohort: the plan's default where every node
// fits this host's memory, else the host's share per node (at least the plan's minimum):
// the program's preflight refuses a cohort whose limits exceed the host, as it should, and
// the Go API runs, which have no such check, use the default limits.
func cliNodeMemory(nodes int) (string, error) {
	defaults, err := plan.Build(plan.Defaults(cliStack))
	if err != nil {
		return "", err
	}
	share := int(meminfo("/proc/meminfo", "MemTotal:")/1024) / nodes / 64 * 64
	return fmt.Sprintf("%dm", max(plan.MinNodeMemoryMB, min(defaults.NodeMemoryMB, share))), nil
}

// emptyTimes is Pulumi's own floor: what a program with no resources costs on this CLI.
type emptyTimes struct{ noop, destroy time.Duration }

// emptyFloor times an empty Go program (pulumi.Run of a function that does nothing) built
// against the same SDK as labfleet: its no-op `pulumi up` (after a first one that created
// the stack) and its `pulumi destroy`. It is written under dir, as a module of its own with
// labfleet's go.mod and go.sum, so it builds from the same module cache, offline.
func emptyFloor(ctx context.Context, pulumiPath, dir string) (emptyTimes, error) {
	var t emptyTimes
	projectDir := filepath.Join(dir, "empty")
	if err := os.Mkdir(projectDir, 0o755); err != nil {
		return t, err
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		return t, err
	}
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		return t, err
	}
	_, rest, _ := strings.Cut(string(mod), "\n") // the module line
	project, err := emptyProjectFile()
	if err != nil {
		return t, err
	}
	files := map[string]string{
		"Pulumi.yaml": project,
		"main.go":     "package main\n\nimport \"github.com/pulumi/pulumi/sdk/v3/go/pulumi\"\n\nfunc main() { pulumi.Run(func(*pulumi.Context) error { return nil }) }\n",
		"go.mod":      "module lfbench/empty\n" + rest,
		"go.sum":      string(sum),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(projectDir, name), []byte(content), 0o644); err != nil {
			return t, err
		}
	}
	cli := pulumiCLI{path: pulumiPath, backend: dir, project: projectDir, stack: "lfbench-empty", log: filepath.Join(dir, "empty.log")}
	if err := cli.initStack(ctx); err != nil {
		return t, err
	}
	defer cli.time(context.Background(), nil, "stack", "rm", "--yes", "--force")
	if _, err := cli.time(ctx, nil, "up", "--yes", "--skip-preview"); err != nil {
		return t, err
	}
	if t.noop, err = cli.time(ctx, nil, "up", "--yes", "--skip-preview"); err != nil {
		return t, err
	}
	t.destroy, err = cli.time(ctx, nil, "destroy", "--yes", "--skip-preview")
	return t, err
}

// emptyProjectFile is the empty program's Pulumi.yaml: its own name with labfleet's runtime
// settings, so that the floor is what Pulumi costs a program run the way labfleet's is.
func emptyProjectFile() (string, error) {
	raw, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		return "", err
	}
	var labfleet struct {
		Runtime any `json:"runtime"`
	}
	if err := yaml.Unmarshal(raw, &labfleet); err != nil {
		return "", fmt.Errorf("Pulumi.yaml: %w", err)
	}
	out, err := yaml.Marshal(map[string]any{"name": "lfbench-empty", "runtime": labfleet.Runtime})
	return string(out), err
}

// pulumiCLI runs the pulumi CLI on the benchmark's own local backend and one stack of a
// project directory, with the stack's config file in the backend's directory.
type pulumiCLI struct {
	path, backend, project, stack, log string
}

func (p pulumiCLI) command(ctx context.Context, args ...string) *exec.Cmd {
	switch args[0] {
	case "config", "up", "preview", "destroy":
		args = append(args, "--stack", p.stack, "--config-file", p.configFile(), "--non-interactive")
	case "stack":
		if args[1] == "rm" {
			args = append(args, "--stack", p.stack)
		}
	}
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.Dir = p.project
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(makefileTuning, name)
	}),
		"PULUMI_BACKEND_URL=file://"+p.backend,
		"PULUMI_CONFIG_PASSPHRASE=lfbench-throwaway",
		"PULUMI_SKIP_UPDATE_CHECK=true")
	return cmd
}

// initStack creates the stack. stack init writes the stack's config file (its secrets salt)
// into the project: it is moved out, so the benchmark leaves nothing in the working tree.
func (p pulumiCLI) initStack(ctx context.Context) error {
	if _, err := p.time(ctx, nil, "stack", "init", p.stack); err != nil {
		return err
	}
	return os.Rename(filepath.Join(p.project, "Pulumi."+p.stack+".yaml"), p.configFile())
}

func (p pulumiCLI) configFile() string { return filepath.Join(p.backend, "Pulumi."+p.stack+".yaml") }

func (p pulumiCLI) output(args ...string) (string, error) {
	out, err := p.command(context.Background(), args...).Output()
	return string(out), err
}

// time runs one pulumi command, its output appended to the log, and returns how long it
// took; on failure the error carries the end of the log.
func (p pulumiCLI) time(ctx context.Context, stdin io.Reader, args ...string) (time.Duration, error) {
	log, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n$ pulumi %s\n", strings.Join(args, " "))
	cmd := p.command(ctx, args...)
	// The output goes to the terminal too, each line with the seconds since the command
	// started: it is the live progress an instructor sees, and it shows where time goes.
	out := io.MultiWriter(log, &stampedLines{w: os.Stderr, start: time.Now()})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	fmt.Fprintf(os.Stderr, "  pulumi %s ...\n", strings.Join(args, " "))
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err != nil {
		b, _ := os.ReadFile(p.log)
		tail := string(b[max(0, len(b)-3000):])
		return took, errors.New("pulumi " + strings.Join(args, " ") + ": " + err.Error() + "\n" + tail)
	}
	return took, nil
}

// stampedLines writes each line it is given to w, prefixed with the seconds since start.
type stampedLines struct {
	w       io.Writer
	start   time.Time
	partial []byte
}

func (s *stampedLines) Write(b []byte) (int, error) {
	s.partial = append(s.partial, b...)
	for {
		line, rest, ok := bytes.Cut(s.partial, []byte("\n"))
		if !ok {
			return len(b), nil
		}
		fmt.Fprintf(s.w, "%6.1fs %s\n", time.Since(s.start).Seconds(), line)
		s.partial = rest
	}
}
