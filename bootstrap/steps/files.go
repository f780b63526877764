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

// WriteFile puts content at dest on a node (relative paths are in the login user's home),
// unless the node's copy already has the same SHA-256. The file is written beside dest and
// renamed into place, so a reader never sees half of it; asRoot writes through sudo (for
// /usr/local/bin). It reports whether it wrote.
func WriteFile(ctx context.Context, node Runner, dest string, content io.ReadSeeker, mode string, asRoot bool) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, content); err != nil {
		return false, err
	}
	have, _ := node.Run(ctx, "sha256sum "+dest+" 2>/dev/null || true")
	if strings.HasPrefix(have, hex.EncodeToString(h.Sum(nil))+" ") {
		return false, nil
	}
	if _, err := content.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	sudo := ""
	if asRoot {
		sudo = "sudo "
	}
	tmp := dest + ".new"
	cmd := fmt.Sprintf("%smkdir -p %s && (umask 077 && %stee %s >/dev/null) && %schmod %s %s && %smv %s %s",
		sudo, path.Dir(dest), sudo, tmp, sudo, mode, tmp, sudo, tmp, dest)
	if _, err := node.RunWithInput(ctx, cmd, content); err != nil {
		return false, err
	}
	return true, nil
}
