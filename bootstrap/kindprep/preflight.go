package kindprep

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
)

// Required host settings for many kind clusters on one kernel (kind's known issues).
const (
	MinInotifyWatches   = 524288
	MinInotifyInstances = 512
)

// Finding is one preflight result. A blocking one stops day 3 before any work; the others
// are warnings (known to matter, but not proven fatal here).
type Finding struct {
	Msg      string
	Blocking bool
}

// preflightScript prints, one per line, the inotify limits, the cgroup filesystem, the
// capability bounding set, MemAvailable (kB), and the node's own memory limit and use in
// bytes where its cgroup shows them ("max 0" where not).
var preflightScript = strings.Join([]string{
	"cat /proc/sys/fs/inotify/max_user_watches",
	"cat /proc/sys/fs/inotify/max_user_instances",
	"stat -fc %T /sys/fs/cgroup",
	"awk '/^CapBnd/ {print $2}' /proc/1/status",
	"awk '/^MemAvailable/ {print $2}' /proc/meminfo",
	"if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.current; " +
		"elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.usage_in_bytes; " +
		"else echo max; echo 0; fi",
}, " && ")

// Preflight checks, on the node that is to host a team's cluster (so it sees the kernel
// under that node and the node's own rights and memory), what kind needs: memory for the
// cluster, unless it runs already (blocking), and cgroup v2, inotify limits and full
// capabilities (warnings). Each finding says how to fix it. The memory is the node's own: a
// VM guest's or a machine's, and for a dind node what its container's limit leaves (where
// the cgroup shows it) and the Docker host has available.
func Preflight(ctx context.Context, node steps.Runner, d plan.Day3, clusterRunning bool) ([]Finding, error) {
	out, err := node.Run(ctx, preflightScript)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) != 7 {
		return nil, fmt.Errorf("preflight: unexpected output %q", out)
	}
	watches, _ := strconv.Atoi(f[0])
	instances, _ := strconv.Atoi(f[1])
	capBnd, _ := strconv.ParseUint(f[3], 16, 64)
	availMB, _ := strconv.Atoi(f[4])
	availMB /= 1024
	if limit, err := strconv.ParseInt(f[5], 10, 64); err == nil && limit < 1<<50 {
		used, _ := strconv.ParseInt(f[6], 10, 64)
		availMB = min(availMB, int((limit-used)>>20))
	}

	var findings []Finding
	add := func(blocking bool, msg string) { findings = append(findings, Finding{Msg: msg, Blocking: blocking}) }
	if watches < MinInotifyWatches || instances < MinInotifyInstances {
		// kind's known issues: too few watches make clusters fail as they multiply.
		add(false, fmt.Sprintf(
			"inotify limits are %d watches / %d instances, kind needs %d / %d for several clusters on one host: on the Docker host run "+
				"`sysctl -w fs.inotify.max_user_watches=%d fs.inotify.max_user_instances=%d` (and put them in /etc/sysctl.d/ to keep them)",
			watches, instances, MinInotifyWatches, MinInotifyInstances, MinInotifyWatches, MinInotifyInstances))
	}
	if f[2] != "cgroup2fs" {
		// The kubelet of Kubernetes 1.35 and later refuses cgroup v1 unless told otherwise;
		// labfleet's kind config tells it (failCgroupV1: false).
		add(false, fmt.Sprintf(
			"the kernel under this node uses cgroup v1 (/sys/fs/cgroup is %s): the cluster's kubelets run with failCgroupV1: false, which Kubernetes still allows but deprecates: prefer a host booted with cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
			f[2]))
	}
	if capBnd&(1<<plan.CapSysResource) == 0 {
		// Seen here: the nested dockerd still starts kind's privileged node containers, but
		// kubelet and containerd adjust OOM scores and limits, which CAP_SYS_RESOURCE grants.
		add(false, "node containers lack CAP_SYS_RESOURCE (labfleet:privilege reduced), which Kubernetes components use to adjust OOM scores and limits: "+
			"set labfleet:privilege privileged where the Docker host allows --privileged")
	}
	if need := d.KindMemoryMB(); !clusterRunning && availMB < need {
		add(true, fmt.Sprintf(
			"%d MB of memory is available to this node, its kind cluster needs about %d MB: free memory, give the nodes more (labfleet:nodeMemory or vmMemory), or lower labfleet:kindWorkers",
			availMB, need))
	}
	return findings, nil
}
