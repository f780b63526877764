package plan

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// PreflightTable shows, one row per host, what labfleet found there against what the plan
// needs of it: reachable, Docker version, teams, node memory against the host's, IPVS,
// cgroup version, inotify limits and /dev/kvm. "?" is what the engine does not show
// (a tcp:// host's kernel). It is printed before any work, failing or not.
func (p *Plan) PreflightTable(facts map[string]HostFacts) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tENGINE\tREACHABLE\tDOCKER\tTEAMS\tMEMORY (NODES/HOST)\tIPVS\tCGROUP\tINOTIFY\tKVM")
	for _, h := range p.Hosts {
		f := facts[h.Name]
		teams := p.TeamsOn(h.Name)
		need := 0
		if len(teams) > 0 {
			need = len(teams) * p.TeamMemoryMB(teams[0])
		}
		if f.Err != "" {
			fmt.Fprintf(w, "%s\t%s\tNO\t-\t%d\t%s\t-\t-\t-\t-\n", h.Name, describeEngine(h.Engine), len(teams), gib(need))
			continue
		}
		memory := gib(need) + " / " + gib(f.MemoryMB)
		if f.MemoryMB == 0 {
			memory = gib(need) + " / ?"
		}
		ipvs, inotify, kvm := "?", "?", "?"
		if k := f.Kernel; k != nil {
			ipvs = map[bool]string{true: "yes", false: "no (host-mode ports)"}[k.IPVS]
			inotify = fmt.Sprintf("%d/%d", k.InotifyWatches, k.InotifyInstances)
			kvm = map[bool]string{true: "yes", false: "no"}[f.KVM]
		}
		cgroup := "v" + f.Cgroup
		if f.Cgroup == "" {
			cgroup = "?"
		}
		fmt.Fprintf(w, "%s\t%s\tyes\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", h.Name, describeEngine(h.Engine), f.Version, len(teams), memory, ipvs, cgroup, inotify, kvm)
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// gib writes megabytes as gigabytes with one decimal, e.g. 6144 -> "6.0g".
func gib(mb int) string { return fmt.Sprintf("%.1fg", float64(mb)/1024) }
