package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
)

// Owners of files WriteFile puts on nodes.
const (
	// AsLoginUser writes as the user the bootstrap logs in as; relative paths are in its home.
	AsLoginUser = ""
	// AsRoot writes through sudo, owned by root (e.g. /usr/local/bin).
	AsRoot = "root"
)

// Quote makes s one shell word, quoting it only when it needs to be.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WriteFile puts content at dest on a node, unless the node's copy already has the same
// SHA-256. The file is written beside dest and renamed into place, so a reader never sees
// half of it. owner is AsLoginUser, AsRoot, or another account (e.g. the student's, for
// files in their home: written through sudo, then given to that account, directory too).
// It reports whether it wrote.
func WriteFile(ctx context.Context, node Runner, dest string, content io.ReadSeeker, mode, owner string) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, content); err != nil {
		return false, err
	}
	sudo := ""
	if owner != AsLoginUser {
		sudo = "sudo "
	}
	have, _ := node.Run(ctx, sudo+"sha256sum "+Quote(dest)+" 2>/dev/null || true")
	if strings.HasPrefix(have, hex.EncodeToString(h.Sum(nil))+" ") {
		return false, nil
	}
	if _, err := content.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	// Quoted like every path labfleet puts on a command line (machines' writer too).
	tmp, dir := Quote(dest+".new"), Quote(path.Dir(dest))
	mkdir, chown := "mkdir -p "+dir, ""
	switch owner {
	case AsLoginUser:
	case AsRoot:
		mkdir = "sudo install -d " + dir
	default:
		mkdir = fmt.Sprintf("sudo install -d -o %s -g %s %s", owner, owner, dir)
		chown = fmt.Sprintf(" && sudo chown %s: %s", owner, tmp)
	}
	cmd := fmt.Sprintf("%s && (umask 077 && %stee %s >/dev/null) && %schmod %s %s%s && %smv %s %s",
		mkdir, sudo, tmp, sudo, mode, tmp, chown, sudo, tmp, Quote(dest))
	if _, err := node.RunWithInput(ctx, cmd, content); err != nil {
		return false, err
	}
	return true, nil
}
