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

	"github.com/labfleet/labfleet/prereq"
)

// cliStack is the throwaway stack the real-CLI mode brings up, on its own ports and pool.
const cliStack = "lfbench-cli"

// The Makefile's tuning (its exports): the real-CLI mode runs pulumi without them, as an
// instructor types `pulumi up` for a real cohort, so the numbers are those of the plain
// commands the README gives.
var makefileTuning = []string{"PULUMI_PARALLEL", "GOFLAGS", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"}

// cliRun times the plain `pulumi up --yes --skip-preview` of a cohort, the same with nothing
// to do, `pulumi preview --expect-no-changes` and `pulumi destroy --yes --skip-preview`,
// against two floors measured in this run: the raw Docker floor (raw) and Pulumi's own, an
// empty Go program on the same CLI and language host (its no-op up and its destroy).
// It needs the pulumi CLI and the docker resource plugin; without them it says so.
func cliRun(ctx context.Context, teams int, raw measurement) error {
	pulumiPath, err := exec.LookPath("pulumi")
	if err != nil {
		fmt.Println("\nmode: Go API only. The real-CLI timings need `pulumi` on PATH (see the README, Quick start).")
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
	for _, args := range [][]string{
		{"config", "set", "labfleet:teams", strconv.Itoa(teams)},
		{"config", "set", "labfleet:sshPortBase", "25200"},
		{"config", "set", "labfleet:addressPool", "172.21.0.0/16"},
	} {
		if _, err := cli.time(ctx, nil, args...); err != nil {
			return err
		}
	}
	if _, err := cli.time(ctx, strings.NewReader("benchmark-seed-0123456789abcdef-0123"), "config", "set", "--secret", "labfleet:keySeed"); err != nil {
		return err
	}
	var up, noop, preview, destroy time.Duration
	destroyed := false
	defer func() {
		if !destroyed {
			cli.time(context.Background(), nil, "destroy", "--yes", "--skip-preview")
		}
		cli.time(context.Background(), nil, "stack", "rm", "--yes", "--force")
	}()
	if up, err = cli.time(ctx, nil, "up", "--yes", "--skip-preview"); err != nil {
		return err
	}
	if noop, err = cli.time(ctx, nil, "up", "--yes", "--skip-preview"); err != nil {
		return err
	}
	if preview, err = cli.time(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		return err
	}
	if destroy, err = cli.time(ctx, nil, "destroy", "--yes", "--skip-preview"); err != nil {
		return err
	}
	destroyed = true
	floor := raw.create + raw.ready
	fmt.Printf("\nmode: real pulumi CLI %s (%s), plain commands (none of the Makefile's settings), same %d teams x 3 nodes with the Day-2 lab;\n", strings.TrimSpace(version), pulumiPath, teams)
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
	target("pulumi up --yes --skip-preview", floor, empty.noop, up, floor*5/4+empty.noop, "1.25 x raw + empty no-op")
	target("the same with nothing to do", 0, empty.noop, noop, empty.noop+time.Second, "empty no-op + 1s")
	fmt.Printf("%-44s %12s %12s %12s\n", "pulumi preview --expect-no-changes", "n/a", "n/a", preview.Round(time.Millisecond))
	target("pulumi destroy --yes --skip-preview", raw.remove, empty.destroy, destroy, raw.remove+empty.destroy+time.Second, "raw removal + empty destroy + 1s")
	return nil
}

// emptyTimes is Pulumi's own floor: what a program with no resources costs on this CLI.
type emptyTimes struct{ noop, destroy time.Duration }

// emptyFloor times an empty Go program (pulumi.Run of a function that does nothing) built
// against the same SDK as labfleet: its no-op `pulumi up` (after a first one that created
// the stack) and its `pulumi destroy`. It is written under dir, as a module of its own with
// labfleet's go.mod and go.sum, so it builds from the same module cache, offline.
func emptyFloor(ctx context.Context, pulumiPath, dir string) (emptyTimes, error) {
	var t emptyTimes
	project := filepath.Join(dir, "empty")
	if err := os.Mkdir(project, 0o755); err != nil {
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
	files := map[string]string{
		"Pulumi.yaml": "name: lfbench-empty\nruntime: go\n",
		"main.go":     "package main\n\nimport \"github.com/pulumi/pulumi/sdk/v3/go/pulumi\"\n\nfunc main() { pulumi.Run(func(*pulumi.Context) error { return nil }) }\n",
		"go.mod":      "module lfbench/empty\n" + rest,
		"go.sum":      string(sum),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o644); err != nil {
			return t, err
		}
	}
	cli := pulumiCLI{path: pulumiPath, backend: dir, project: project, stack: "lfbench-empty", log: filepath.Join(dir, "empty.log")}
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
