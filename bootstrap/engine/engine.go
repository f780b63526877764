// Package engine runs the docker CLI against one of a cohort's Docker engines: the local
// one, an ssh:// one (the CLI execs OpenSSH, given the host's sshOpts) or a tcp:// one with
// its TLS client material. It is how labfleet reads a host before planning and moves
// images out of it; the Pulumi provider reaches the same engine with the same settings.
package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/model/plan"
)

// Docker runs the docker CLI on engine e and returns stdout, or an error that carries the
// command and stderr.
func Docker(ctx context.Context, e plan.Engine, args ...string) (string, error) {
	cmd, err := Command(ctx, e, args...)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s%s: %v: %s", on(e), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func on(e plan.Engine) string {
	if e.URL == "" {
		return ""
	}
	return "-H " + e.URL + " "
}

// Command is the docker CLI command Docker runs, for callers that stream its stdin or
// stdout. It uses the legacy builder: hosts without buildx exist.
func Command(ctx context.Context, e plan.Engine, args ...string) (*exec.Cmd, error) {
	env := append(os.Environ(), "DOCKER_BUILDKIT=0")
	var global []string
	if e.URL != "" {
		global = append(global, "--host", e.URL)
	}
	if e.TLS != nil {
		dir, err := materials.dir(e)
		if err != nil {
			return nil, err
		}
		global = append(global, "--tlsverify", "--tlscacert", filepath.Join(dir, "ca.pem"),
			"--tlscert", filepath.Join(dir, "cert.pem"), "--tlskey", filepath.Join(dir, "key.pem"))
	}
	if len(e.SSHOpts) > 0 {
		// The CLI takes no ssh options: it execs the first `ssh` on PATH, so a wrapper that
		// adds them goes first.
		dir, err := materials.dir(e)
		if err != nil {
			return nil, err
		}
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd := exec.CommandContext(ctx, "docker", append(global, args...)...)
	cmd.Env = env
	return cmd, nil
}

// SSH runs a shell command on an ssh:// engine's host itself (not in a container), with the
// host's ssh options: how labfleet reads a remote host's kernel settings.
func SSH(ctx context.Context, e plan.Engine, script string) (string, error) {
	dest, port := e.SSHDestination()
	if dest == "" {
		return "", fmt.Errorf("%s is not an ssh:// engine", e.URL)
	}
	args := append([]string{"-o", "BatchMode=yes"}, e.SSHOpts...)
	if port != "" {
		args = append(args, "-p", port)
	}
	cmd := exec.CommandContext(ctx, "ssh", append(args, "--", dest, script)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s: %v: %s", dest, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// materials keeps, per engine, a private directory with its TLS files and ssh wrapper,
// written once per process and removed with it (see Cleanup).
var materials = &store{dirs: map[string]string{}}

type store struct {
	mu    sync.Mutex
	dirs  map[string]string
	swept bool
}

// dirPrefix starts every materials directory's name; the creating process's ID follows it,
// so a later process can tell the directories of one that crashed (see sweepStale).
const dirPrefix = "labfleet-engine-"

func (s *store) dir(e plan.Engine) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := identity(e)
	if d, ok := s.dirs[id]; ok {
		return d, nil
	}
	if !s.swept {
		// Cleanup never runs in a process that was killed: its TLS keys would stay in the
		// temporary directory for good. The first process to write materials again removes
		// them.
		sweepStale(os.TempDir())
		s.swept = true
	}
	d, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	files := map[string]string{}
	if e.TLS != nil {
		files["ca.pem"], files["cert.pem"], files["key.pem"] = e.TLS.CA, e.TLS.Cert, e.TLS.Key
	}
	if len(e.SSHOpts) > 0 {
		real, err := exec.LookPath("ssh")
		if err != nil {
			return "", fmt.Errorf("%s needs the OpenSSH client (ssh): install openssh-client", e.URL)
		}
		words := []string{remote.Quote(real)}
		for _, o := range e.SSHOpts {
			words = append(words, remote.Quote(o))
		}
		files["ssh"] = "#!/bin/sh\nexec " + strings.Join(words, " ") + ` "$@"` + "\n"
	}
	for name, content := range files {
		mode := os.FileMode(0o600)
		if name == "ssh" {
			mode = 0o700
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), mode); err != nil {
			return "", err
		}
	}
	s.dirs[id] = d
	return d, nil
}

// identity tells engine settings apart: the same URL with other material is another entry.
func identity(e plan.Engine) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q", e.URL, e.SSHOpts)
	if e.TLS != nil {
		fmt.Fprintf(h, " %q %q %q", e.TLS.CA, e.TLS.Cert, e.TLS.Key)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sweepStale removes the materials directories in tmp whose process is gone. A directory
// of a live process, or of another user's (whose process signals cannot probe, and whose
// files this user cannot remove), stays.
func sweepStale(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, entry := range entries {
		rest, ok := strings.CutPrefix(entry.Name(), dirPrefix)
		if !ok || !entry.IsDir() {
			continue
		}
		digits, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(digits)
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(tmp, entry.Name()))
		}
	}
}

// Cleanup removes the TLS files and wrappers written for the engines.
func Cleanup() {
	materials.mu.Lock()
	defer materials.mu.Unlock()
	for id, d := range materials.dirs {
		os.RemoveAll(d)
		delete(materials.dirs, id)
	}
}
