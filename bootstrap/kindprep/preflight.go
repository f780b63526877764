package kindprep

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/infra/plan"
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

// Preflight checks, from inside a node (so it sees the Docker host's kernel and the node's
// own rights), what kind needs: cgroup v2 and memory for every team's cluster (blocking),
// inotify limits and full capabilities (warnings). Each finding says how to fix it.
func Preflight(ctx context.Context, node steps.Runner, d plan.Day3, teams int) ([]Finding, error) {
	out, err := node.Run(ctx, strings.Join([]string{
		"cat /proc/sys/fs/inotify/max_user_watches",
		"cat /proc/sys/fs/inotify/max_user_instances",
		"stat -fc %T /sys/fs/cgroup",
		"awk '/^CapBnd/ {print $2}' /proc/1/status",
		"awk '/^MemAvailable/ {print $2}' /proc/meminfo",
	}, " && "))
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) != 5 {
		return nil, fmt.Errorf("preflight: unexpected output %q", out)
	}
	watches, _ := strconv.Atoi(f[0])
	instances, _ := strconv.Atoi(f[1])
	capBnd, _ := strconv.ParseUint(f[3], 16, 64)
	availKB, _ := strconv.Atoi(f[4])

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
		// The kubelet of recent Kubernetes refuses to start on cgroup v1.
		add(true, fmt.Sprintf(
			"the Docker host uses cgroup v1 (/sys/fs/cgroup is %s); kind's Kubernetes nodes (%s) need cgroup v2: boot the host with systemd.unified_cgroup_hierarchy=1, or use a host with a recent distribution",
			f[2], d.NodeImage))
	}
	if capBnd&(1<<plan.CapSysResource) == 0 {
		// Seen here: the nested dockerd still starts kind's privileged node containers, but
		// kubelet and containerd adjust OOM scores and limits, which CAP_SYS_RESOURCE grants.
		add(false, "node containers lack CAP_SYS_RESOURCE (labfleet:privilege reduced), which Kubernetes components use to adjust OOM scores and limits: "+
			"set labfleet:privilege privileged where the Docker host allows --privileged")
	}
	if need := teams * d.KindMemoryMB(); availKB/1024 < need {
		add(true, fmt.Sprintf(
			"the Docker host has %d MB available, the %d teams' kind clusters need about %d MB: free memory, use a larger host, or lower labfleet:kindWorkers",
			availKB/1024, teams, need))
	}
	return findings, nil
}
