package infra

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Pulumi tells a program whether it runs for a preview, but not whether for `pulumi up` or
// `pulumi destroy --run-program`; the command line of the pulumi process that started it
// (through the language host) does.

// pulumiCommand is the subcommand ("up", "destroy", ...) of the pulumi CLI process among
// this program's ancestors, "" if there is none. A variable, so tests can stand in for it.
var pulumiCommand = func() (string, error) {
	processes, err := ancestorArgs(os.Getppid())
	if err != nil {
		return "", err
	}
	return subcommandOf(processes), nil
}

// operations are the pulumi subcommands (and their aliases) that run a program.
var operations = []string{"up", "update", "preview", "pre", "destroy", "down", "dn", "refresh", "import", "watch"}

// isDestroy tells whether a pulumi subcommand is destroy, under any of its names.
func isDestroy(subcommand string) bool {
	return slices.Contains([]string{"destroy", "down", "dn"}, subcommand)
}

// subcommandOf returns the first pulumi subcommand found in the argument lists (nearest
// process first) of a process named pulumi. Flags and their values are skipped by looking
// for a known subcommand: `pulumi up --stack destroy` is an up.
func subcommandOf(processes [][]string) string {
	for _, args := range processes {
		if len(args) == 0 || filepath.Base(args[0]) != "pulumi" {
			continue
		}
		for _, a := range args[1:] {
			if slices.Contains(operations, a) {
				return a
			}
		}
	}
	return ""
}

// ancestorArgs returns the argument lists of process pid and its ancestors, up to init.
func ancestorArgs(pid int) ([][]string, error) {
	var all [][]string
	for depth := 0; pid > 1 && depth < 16; depth++ {
		args, parent, err := processInfo(pid)
		if err != nil {
			return nil, fmt.Errorf("reading process %d: %w", pid, err)
		}
		all = append(all, args)
		pid = parent
	}
	return all, nil
}

// processInfo reads a process's arguments and parent: from /proc where there is one (exact
// arguments), else from ps (macOS; arguments split at spaces).
func processInfo(pid int) (args []string, parent int, err error) {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 {
			return nil, 0, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
		}
		parent, err := strconv.Atoi(fields[1])
		if err != nil {
			return nil, 0, err
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return nil, 0, err
		}
		return strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), parent, nil
	}
	out, err := exec.Command("ps", "-o", "ppid=", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("ps: %w", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 {
		return nil, 0, fmt.Errorf("ps: %q", out)
	}
	parent, err = strconv.Atoi(fields[0])
	return fields[1:], parent, err
}
