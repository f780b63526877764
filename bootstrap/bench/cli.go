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
	"strconv"
	"strings"
	"time"

	"github.com/labfleet/labfleet/prereq"
)

// cliStack is the throwaway stack the real-CLI mode brings up, on its own ports and pool.
const cliStack = "lfbench-cli"

// cliRun times the real `pulumi up` as `make up` runs it (--yes --skip-preview), the same
// with nothing to do, a no-op `pulumi up --yes` (with its preview), `pulumi preview` (Pulumi's
// own fixed cost: program, plugin, state and diff, no bootstrap) and `pulumi destroy` of a
// cohort of the same size, against the raw floor measured in this run.
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
	cli := pulumiCLI{path: pulumiPath, dir: dir, log: filepath.Join(dir, "pulumi.log")}
	version, _ := cli.output("version")
	if _, err := cli.time(ctx, nil, "stack", "init", cliStack); err != nil {
		return err
	}
	// stack init writes the stack's config file (its secrets salt) into the project: move it
	// out, so the benchmark leaves nothing in the working tree.
	if err := os.Rename("Pulumi."+cliStack+".yaml", cli.configFile()); err != nil {
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
	var up, noop, noopPreviewed, preview, destroy time.Duration
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
	if noopPreviewed, err = cli.time(ctx, nil, "up", "--yes"); err != nil {
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
	fmt.Printf("\nmode: real pulumi CLI %s (%s), same %d teams x 3 nodes with the Day-2 lab\n\n", strings.TrimSpace(version), pulumiPath, teams)
	fmt.Printf("%-44s %12s %12s %8s  %s\n", "", "raw floor", "pulumi", "ratio", "target")
	fmt.Printf("%-44s %12s %12s %7.2fx  <= %s (1.5 x floor + preview)\n", "make up: images, containers, bootstrap",
		floor.Round(time.Millisecond), up.Round(time.Millisecond), float64(up)/float64(floor), (floor*3/2 + preview).Round(time.Millisecond))
	fmt.Printf("%-44s %12s %12s %8s  <= 6s\n", "make up with nothing to do", "n/a", noop.Round(time.Millisecond), "")
	fmt.Printf("%-44s %12s %12s\n", "pulumi up --yes with nothing to do", "n/a", noopPreviewed.Round(time.Millisecond))
	fmt.Printf("%-44s %12s %12s %8s  (Pulumi's fixed cost)\n", "pulumi preview --expect-no-changes", "n/a", preview.Round(time.Millisecond), "")
	fmt.Printf("%-44s %12s %12s %7.2fx  <= %s (raw removal + preview)\n", "make destroy",
		raw.remove.Round(time.Millisecond), destroy.Round(time.Millisecond), float64(destroy)/float64(raw.remove), (raw.remove + preview).Round(time.Millisecond))
	return nil
}

// pulumiCLI runs the pulumi CLI on the benchmark's own local backend and stack, from the
// project directory, with the stack's config file outside the project.
type pulumiCLI struct {
	path, dir, log string
}

func (p pulumiCLI) command(ctx context.Context, args ...string) *exec.Cmd {
	switch args[0] {
	case "config", "up", "preview", "destroy":
		args = append(args, "--stack", cliStack, "--config-file", p.configFile(), "--non-interactive")
	case "stack":
		if args[1] == "rm" {
			args = append(args, "--stack", cliStack)
		}
	}
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.Env = append(os.Environ(),
		"PULUMI_BACKEND_URL=file://"+p.dir,
		"PULUMI_CONFIG_PASSPHRASE=lfbench-throwaway",
		"PULUMI_SKIP_UPDATE_CHECK=true")
	return cmd
}

func (p pulumiCLI) configFile() string { return filepath.Join(p.dir, "Pulumi."+cliStack+".yaml") }

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
