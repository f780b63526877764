// Package remote is what the bootstrap does to a node's files and command lines, done one
// way for every convergence (swarm, Day-2 lab, Day-3 kind, existing machines): a word quoted
// for the node's shell, a file written whole, only when it changed, owned as asked.
package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/steps"
)

// Owners of files WriteFile puts on nodes.
const (
	// AsLoginUser writes as the user the bootstrap logs in as; relative paths are in its home.
	AsLoginUser = ""
	// AsRoot writes as root, owned by root (e.g. /usr/local/bin, /etc/sudoers.d).
	AsRoot = "root"
)

// Quote makes s one shell word, quoting it only when it needs to be.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// File is a file WriteFile puts on a node.
type File struct {
	Path    string // relative: in the login user's home
	Content io.ReadSeeker
	Mode    string // the file's, as chmod takes it
	// Owner is AsLoginUser, AsRoot, or another account (e.g. a student's, for files in their
	// home): the file and its directory are then given to that account and its login group.
	Owner string
	// DirMode is set on the file's directory when it is created, and when it is given to
	// Owner (~/.ssh: 0700); "" leaves the mode a directory has or mkdir gives it. A directory
	// that exists and is not given to an account (root's /etc/sudoers.d) keeps its mode.
	DirMode string
	// LoginIsRoot says the login user is root: commands as root need no sudo (which an
	// existing machine may not have yet). Otherwise they go through `sudo -n`, which fails
	// rather than waits for a password.
	LoginIsRoot bool
}

// WriteFile puts f on a node, unless the node's copy already has the same SHA-256. The
// file is written beside its path and renamed into place, so a reader (sshd, sudo, a
// student's shell) never sees half of it; a file in /etc/sudoers.d is checked with visudo
// before it goes in (a broken one would take sudo away from everyone). sudo ignores a name
// with a dot in /etc/sudoers.d, like the path.new written first. It reports whether it wrote.
func WriteFile(ctx context.Context, node steps.Runner, f File) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, f.Content); err != nil {
		return false, err
	}
	as := func(cmd string) string { return cmd }
	if f.Owner != AsLoginUser && !f.LoginIsRoot {
		as = func(cmd string) string { return "sudo -n " + cmd }
	}
	dest, tmp, dir := Quote(f.Path), Quote(f.Path+".new"), Quote(path.Dir(f.Path))
	have, _ := node.Run(ctx, as("sha256sum "+dest)+" 2>/dev/null || true")
	if strings.HasPrefix(have, hex.EncodeToString(h.Sum(nil))+" ") {
		return false, nil
	}
	if _, err := f.Content.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	mkdir := "mkdir -p " + dir
	if f.DirMode != "" {
		mkdir = "mkdir -p -m " + f.DirMode + " " + dir
	}
	cmds := []string{as(mkdir)}
	giveTo := f.Owner != AsLoginUser && f.Owner != AsRoot
	if giveTo {
		cmds = append(cmds, as("chown "+f.Owner+": "+dir))
		if f.DirMode != "" {
			cmds = append(cmds, as("chmod "+f.DirMode+" "+dir))
		}
	}
	cmds = append(cmds, "(umask 077 && "+as("tee "+tmp)+" >/dev/null)", as("chmod "+f.Mode+" "+tmp))
	if giveTo {
		cmds = append(cmds, as("chown "+f.Owner+": "+tmp))
	}
	if f.Owner == AsRoot && path.Dir(f.Path) == "/etc/sudoers.d" {
		cmds = append(cmds, as("visudo -c -q -f "+tmp))
	}
	cmds = append(cmds, as("mv "+tmp+" "+dest))
	if _, err := node.RunWithInput(ctx, strings.Join(cmds, " && "), f.Content); err != nil {
		return false, err
	}
	return true, nil
}
