// Package memlimit reads the container's cgroup memory limit, so the apps can size
// themselves by it, tell the Go runtime about it and report it.
package memlimit

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// The limit files, relative to /sys/fs/cgroup: cgroup v2 (the container's own cgroup is
// the namespace's root) and cgroup v1 (the memory controller's mount).
const (
	v2File = "memory.max"
	v1File = "memory/memory.limit_in_bytes"
)

// noLimitAbove is where "no limit" starts: v1 reports an unlimited cgroup as a page-rounded
// maximum int64 (9223372036854771712), which no real limit comes near.
const noLimitAbove = 1 << 60

// Bytes returns the memory limit of this process's cgroup, or 0 if there is none.
func Bytes() int64 { return Read(os.DirFS("/sys/fs/cgroup")) }

// Read returns the memory limit found under a cgroup mount (v2 first, then v1), or 0 when
// the cgroup sets none ("max" on v2, the unlimited sentinel on v1) or no file is readable.
func Read(cgroupRoot fs.FS) int64 {
	for _, name := range []string{v2File, v1File} {
		b, err := fs.ReadFile(cgroupRoot, name)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= noLimitAbove {
			return 0
		}
		return n
	}
	return 0
}
