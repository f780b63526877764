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
		fmt.Fprintf(w, "%s\t%s\tyes\t%s\t%d\t%s\t%s\n", h.Name, describeEngine(h.Engine), f.Version, len(teams), memory, kernelCells(f.Kernel, f.Cgroup, f.KVM))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// kernelCells are the IPVS, CGROUP, INOTIFY and KVM cells of a preflight row; "?" where
// labfleet could not read them.
func kernelCells(k *Kernel, cgroup string, kvm bool) string {
	ipvs, inotify, kvmCell := "?", "?", "?"
	if k != nil {
		switch {
		case k.IPVS:
			ipvs = "yes"
		case k.IPVSModule:
			ipvs = "module"
		default:
			ipvs = "no (host-mode ports)"
		}
		inotify = fmt.Sprintf("%d/%d", k.InotifyWatches, k.InotifyInstances)
		kvmCell = map[bool]string{true: "yes", false: "no"}[kvm]
	}
	if cgroup == "" {
		cgroup = "?"
	} else {
		cgroup = "v" + cgroup
	}
	return strings.Join([]string{ipvs, cgroup, inotify, kvmCell}, "\t")
}

// gib writes megabytes as gigabytes with one decimal, e.g. 6144 -> "6.0g".
func gib(mb int) string { return fmt.Sprintf("%.1fg", float64(mb)/1024) }

// MachineFacts is what labfleet reads on an existing machine over SSH before any work,
// by the machine's target (host:port).
type MachineFacts struct {
	Err      string        // why it could not be read; every other field is then unknown
	Recorded *RecordedNode // the node the machine says it is; nil when labfleet never prepared it
	OS       string        // PRETTY_NAME of /etc/os-release
	Docker   string        // the engine's version; "" when Docker is not installed yet
	MemoryMB int
	Cgroup   string // "1" or "2"
	Kernel   *Kernel
	KVM      bool
	HostKey  string // the SSH host key it presented, as in known_hosts ("ssh-ed25519 AAAA...")
}

// SeenHostKeys are the host keys the machines presented, by target, for Config.SeenHostKeys.
func SeenHostKeys(facts map[string]MachineFacts) map[string]string {
	out := map[string]string{}
	for target, f := range facts {
		if f.HostKey != "" {
			out[target] = f.HostKey
		}
	}
	return out
}

// MachineNodes are the nodes the machines record being, by target, for Config.MachineNodes.
func MachineNodes(facts map[string]MachineFacts) map[string]RecordedNode {
	out := map[string]RecordedNode{}
	for target, f := range facts {
		if f.Recorded != nil {
			out[target] = *f.Recorded
		}
	}
	return out
}

// MachinePreflightTable shows, one row per machine, what labfleet found on it.
func (p *Plan) MachinePreflightTable(facts map[string]MachineFacts) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tMACHINE\tREACHABLE\tOS\tDOCKER\tMEMORY\tIPVS\tCGROUP\tINOTIFY\tKVM")
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			if n.Machine == nil {
				continue
			}
			f := facts[n.Machine.Target()]
			if f.Err != "" {
				fmt.Fprintf(w, "%s\t%s@%s\tNO\t-\t-\t-\t-\t-\t-\t-\n", n.Name, n.Machine.User, n.Machine.Target())
				continue
			}
			docker := f.Docker
			if docker == "" {
				docker = "(to install)"
			}
			fmt.Fprintf(w, "%s\t%s@%s\tyes\t%s\t%s\t%s\t%s\n", n.Name, n.Machine.User, n.Machine.Target(), f.OS, docker,
				gib(f.MemoryMB), kernelCells(f.Kernel, f.Cgroup, f.KVM))
		}
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// CheckMachines refuses to start when a machine cannot be reached, or cannot give what the
// plan asks of it, naming the node, the machine and the fix.
func (p *Plan) CheckMachines(facts map[string]MachineFacts) error {
	v := &validator{}
	for _, t := range p.Teams {
		for i, n := range t.Nodes {
			if n.Machine == nil {
				continue
			}
			f, known := facts[n.Machine.Target()]
			if !known {
				continue
			}
			if strings.Contains(f.Err, "host key mismatch") {
				v.fail(fmt.Sprintf("machines (team %s, node %s)", t.Name, n.Name), "%s presents another SSH host key than the one pinned for it (its entry's hostKey, or the stack's %s from the first contact): %s. "+
					"If the machine was reinstalled and this is its new key, put the line from `ssh-keyscan -t ed25519 %s` in its entry's hostKey; otherwise something else answers at that address: find out what before going on",
					n.Machine.Target(), "machineHostKeys", f.Err, n.Machine.Address)
				continue
			}
			if f.Err != "" {
				v.fail(fmt.Sprintf("machines (team %s, node %s)", t.Name, n.Name), "cannot log in to %s@%s: %s: check the address, the user and labfleet:machineKey",
					n.Machine.User, n.Machine.Target(), f.Err)
				continue
			}
			p.checkIPVS(v, fmt.Sprintf("machine %s (node %s)", n.Machine.Target(), n.Name), f.Kernel, true)
			if p.Day3.Clusters && i == 0 && f.MemoryMB > 0 && f.MemoryMB < NodeBaseMB+p.Day3.KindMemoryMB() {
				v.fail("machines", "machine %s (node %s, team %s's first manager) has %dm of memory, its kind cluster needs about %dm besides %dm for itself: use a larger machine, or lower labfleet:kindWorkers",
					n.Machine.Target(), n.Name, t.Name, f.MemoryMB, p.Day3.KindMemoryMB(), NodeBaseMB)
			}
		}
	}
	return v.err()
}
