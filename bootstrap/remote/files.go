// Package remote is what the bootstrap does to a node's files and command lines, done one
// way for every convergence (swarm, Day-2 lab, Day-3 kind, existing machines): a word quoted
// for the node's shell, a file written whole, only when it changed, owned as asked.
package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	// home), which then writes the file itself: it and its directory are that account's.
	Owner string
	// DirMode is the mode of the file's directory when it is created, and always for an
	// account's directory (~/.ssh: 0700); "" leaves the mode a directory has or mkdir gives
	// it. A directory of root's that exists (/etc/sudoers.d) keeps its mode.
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
// with a dot in /etc/sudoers.d, like the path.new written first. A file for an account is
// written by that account itself (sudo -u, or runuser for a root login), never by root in
// a directory the account controls: root would follow a link the account put there (say
// ~/.ssh/authorized_keys.new -> /etc/shadow, planted by an account whose sudo a teardown
// has just taken back). It reports whether it wrote.
func WriteFile(ctx context.Context, node steps.Runner, f File) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, f.Content); err != nil {
		return false, err
	}
	dest, tmp, dir := Quote(f.Path), Quote(f.Path+".new"), Quote(path.Dir(f.Path))
	mkdir := "mkdir -p " + dir
	if f.DirMode != "" {
		mkdir = "mkdir -p -m " + Quote(f.DirMode) + " " + dir
	}
	var check, write string
	switch f.Owner {
	case AsLoginUser, AsRoot:
		as := func(cmd string) string { return cmd }
		if f.Owner == AsRoot && !f.LoginIsRoot {
			as = func(cmd string) string { return "sudo -n " + cmd }
		}
		check = as("sha256sum "+dest) + " 2>/dev/null || true"
		cmds := []string{as(mkdir), "(umask 077 && " + as("tee "+tmp) + " >/dev/null)", as("chmod " + Quote(f.Mode) + " " + tmp)}
		if f.Owner == AsRoot && path.Dir(f.Path) == "/etc/sudoers.d" {
			cmds = append(cmds, as("visudo -c -q -f "+tmp))
		}
		write = strings.Join(append(cmds, as("mv "+tmp+" "+dest)), " && ")
	default:
		if !path.IsAbs(f.Path) {
			return false, fmt.Errorf("write %s for %s: a path relative to the login user's home cannot be another account's", f.Path, f.Owner)
		}
		as := func(script string) string { return "sudo -n -u " + Quote(f.Owner) + " sh -c " + Quote(script) }
		if f.LoginIsRoot {
			as = func(script string) string { return "runuser -u " + Quote(f.Owner) + " -- sh -c " + Quote(script) }
		}
		check = as("sha256sum " + dest + " 2>/dev/null || true")
		// umask 022: a directory made here is 0755 whatever the account's own umask, as root's are.
		cmds := []string{"umask 022", mkdir}
		if f.DirMode != "" {
			cmds = append(cmds, "chmod "+Quote(f.DirMode)+" "+dir)
		}
		// rm -f: a .new left by an interrupted write, or a link, is replaced, not followed.
		cmds = append(cmds, "rm -f "+tmp, "(umask 077 && cat > "+tmp+")", "chmod "+Quote(f.Mode)+" "+tmp, "mv "+tmp+" "+dest)
		write = as(strings.Join(cmds, " && "))
	}
	have, _ := node.Run(ctx, check)
	if strings.HasPrefix(have, hex.EncodeToString(h.Sum(nil))+" ") {
		return false, nil
	}
	if _, err := f.Content.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	if _, err := node.RunWithInput(ctx, write, f.Content); err != nil {
		return false, err
	}
	return true, nil
}
