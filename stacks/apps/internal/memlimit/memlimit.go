// Package memlimit reads the container's cgroup memory limit, so the apps can tell the
// Go runtime about it and report it.
package memlimit

import (
	"os"
	"strconv"
	"strings"
)

// Bytes returns the memory limit of the current cgroup (v2 or v1), or 0 if there is none.
func Bytes() int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // "max", or v1's "unlimited" sentinel
			return 0
		}
		return n
	}
	return 0
}
