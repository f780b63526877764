package memlimit

import (
	"testing"
	"testing/fstest"
)

func TestRead(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  int64
	}{
		{"v2 limit", fstest.MapFS{"memory.max": file("536870912\n")}, 512 << 20},
		{"v2 no limit", fstest.MapFS{"memory.max": file("max\n")}, 0},
		{"v1 limit", fstest.MapFS{"memory/memory.limit_in_bytes": file("268435456\n")}, 256 << 20},
		{"v1 no limit", fstest.MapFS{"memory/memory.limit_in_bytes": file("9223372036854771712\n")}, 0},
		{"v2 wins over a v1 file", fstest.MapFS{"memory.max": file("1073741824"), "memory/memory.limit_in_bytes": file("268435456")}, 1 << 30},
		{"unreadable value", fstest.MapFS{"memory.max": file("lots")}, 0},
		{"no cgroup files", fstest.MapFS{}, 0},
	} {
		if got := Read(tc.files); got != tc.want {
			t.Errorf("%s: Read = %d, want %d", tc.name, got, tc.want)
		}
	}
}
