package plan

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MachineConfig is one entry of labfleet:machines (or of the machines output of the stack
// labfleet:machinesFrom names): a Debian or Ubuntu machine the instructor already has,
// reached over SSH as its own admin user with labfleet:machineKey.
type MachineConfig struct {
	Address    string `json:"address"`    // IPv4 address the team's machines reach each other at
	Port       int    `json:"port"`       // SSH port; 0 means 22
	User       string `json:"user"`       // admin login (root, or passwordless sudo); "" means root
	HostKey    string `json:"hostKey"`    // its SSH host key, as in known_hosts ("ssh-ed25519 AAAA..."); "": the key presented on the first contact, pinned in the stack from then on
	PublicHost string `json:"publicHost"` // where students reach it; "" means Address
	Team       string `json:"team"`       // the team it belongs to; "" fills teams in order
}

// Machine is a validated existing machine: one node.
type Machine struct {
	Address    netip.Addr
	Port       int
	User       string
	HostKey    string // "" when not pinned
	PublicHost string
	// FirstSeen says HostKey is the key the machine presented on this run's first contact:
	// trusted once, pinned in the stack from then on.
	FirstSeen bool
}

// Target is "host:port" where labfleet and the students reach the machine's sshd.
func (m Machine) Target() string { return net.JoinHostPort(m.PublicHost, strconv.Itoa(m.Port)) }

// OnMachines reports whether the team's nodes are existing machines rather than containers.
func (t Team) OnMachines() bool { return len(t.Nodes) > 0 && t.Nodes[0].Machine != nil }

var (
	userPattern    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	hostKeyPattern = regexp.MustCompile(`^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( .*)?$`)
)

// machineEntry is one validated entry of labfleet:machines.
type machineEntry struct {
	key  string // machines[i], for messages
	team string // the team it names, or ""
	Machine
}

// machines validates labfleet:machines (nil when the cohort runs on node containers). The
// count must match the teams' nodes exactly, so that no machine is silently left out or
// missing; assignMachines then gives each its node.
func (v *validator) machines(cfg Config, teams []string) []machineEntry {
	if len(cfg.Machines) == 0 {
		return nil
	}
	perTeam := cfg.Managers + cfg.Workers
	if len(cfg.Hosts) > 0 {
		v.fail("machines", "cannot be combined with labfleet:hosts yet: a cohort runs on Docker hosts or on existing machines")
	}
	if cfg.NodeKind != string(NodeKindDind) {
		v.fail("nodeKind", "is %s, but the cohort runs on existing machines, which are their own nodes: remove labfleet:nodeKind", cfg.NodeKind)
	}
	if need := len(teams) * perTeam; need != len(cfg.Machines) {
		v.fail("machines", "lists %d machines, but %d teams of %d nodes need %d: list %d more, or change labfleet:teams, managers or workers",
			len(cfg.Machines), len(teams), perTeam, need, need-len(cfg.Machines))
		return nil
	}
	var out []machineEntry
	seen := map[string]bool{}
	named := map[string]int{}
	for i, mc := range cfg.Machines {
		key := fmt.Sprintf("machines[%d]", i)
		m := Machine{Port: mc.Port, User: mc.User, HostKey: strings.TrimSpace(mc.HostKey), PublicHost: mc.PublicHost}
		a, err := netip.ParseAddr(mc.Address)
		if err != nil || !a.Is4() {
			v.fail(key+".address", "%q is not an IPv4 address: give the address the team's machines reach each other at (swarm advertises it), e.g. 10.0.0.11", mc.Address)
			continue
		}
		m.Address = a
		if m.Port == 0 {
			m.Port = 22
		}
		if m.Port < 1 || m.Port > 65535 {
			v.fail(key+".port", "%d is not a port: leave it out for 22", mc.Port)
		}
		if m.User == "" {
			m.User = "root"
		}
		if !userPattern.MatchString(m.User) {
			v.fail(key+".user", "%q is not a login name: use the machine's admin user (root, or one with passwordless sudo)", mc.User)
		}
		if m.HostKey != "" && !hostKeyPattern.MatchString(m.HostKey) {
			v.fail(key+".hostKey", "is not a host key line: copy it from `ssh-keyscan -t ed25519 %s` without the host name, e.g. ssh-ed25519 AAAA...", mc.Address)
		}
		if m.PublicHost == "" {
			m.PublicHost = a.String()
		} else if !hostPattern.MatchString(m.PublicHost) {
			v.fail(key+".publicHost", "%q is not a host name or address", mc.PublicHost)
		}
		if id := m.Target(); seen[id] {
			v.fail(key, "%s is listed twice: a machine is one node", id)
		} else {
			seen[id] = true
		}
		// The entry's own hostKey wins (the way to accept a reinstalled machine's new key);
		// then the key the stack pinned at the first contact; then the one seen just now.
		if m.HostKey == "" {
			if k := cfg.PinnedHostKeys[m.Target()]; k != "" {
				m.HostKey = k
			} else if k := cfg.SeenHostKeys[m.Target()]; k != "" {
				m.HostKey, m.FirstSeen = k, true
			}
		}
		switch {
		case mc.Team == "":
		case !slices.Contains(teams, mc.Team):
			v.fail(key+".team", "%q is not a team of the cohort (teams: %s)", mc.Team, strings.Join(teams, ", "))
		case named[mc.Team] == perTeam:
			v.fail(key+".team", "team %s has %d machines already (%d managers + %d workers)", mc.Team, perTeam, cfg.Managers, cfg.Workers)
		default:
			named[mc.Team]++
		}
		out = append(out, machineEntry{key: key, team: mc.Team, Machine: m})
	}
	return out
}

// RecordedNode is the node an existing machine says it is (labfleet writes it on the
// machine when it prepares it): the machine's identity, read back before planning.
type RecordedNode struct{ Cohort, Team, Node string }

// assignMachines makes each laid-out node of the teams one machine, in three passes, so
// that no edit of the list moves a machine that is already a node (that made another
// team's only manager leave its swarm):
//  1. a machine that records being one of the cohort's planned nodes stays that node
//     (unless its entry now names another team: a deliberate move);
//  2. a machine naming a team takes that team's first free node;
//  3. every other machine takes the first free node, in team order.
//
// A machine that records being a node of another cohort is refused.
func (v *validator) assignMachines(teams []Team, entries []machineEntry, cohort string, recorded map[string]RecordedNode) {
	type slot struct{ team, node int }
	free := map[slot]bool{}
	where := map[string]slot{}
	for ti, t := range teams {
		for ni, n := range t.Nodes {
			free[slot{ti, ni}] = true
			where[t.Name+"/"+n.Name] = slot{ti, ni}
		}
	}
	place := func(e machineEntry, at slot) {
		m := e.Machine
		n := &teams[at.team].Nodes[at.node]
		n.Machine, n.IP, n.SSHPort = &m, m.Address, m.Port
		delete(free, at)
	}
	var rest []machineEntry
	for _, e := range entries {
		r, ok := recorded[e.Target()]
		if ok && r.Cohort != cohort {
			v.fail(e.key, "%s is node %s of cohort %s (its %s says so): run make destroy STACK=%s first, or, if that cohort is gone, remove labfleet from the machine by hand (rm -r /etc/labfleet) and list it again",
				e.Target(), r.Node, r.Cohort, "/etc/labfleet/machine", r.Cohort)
			continue
		}
		if at, planned := where[r.Team+"/"+r.Node]; ok && planned && (e.team == "" || e.team == r.Team) && free[at] {
			place(e, at)
			continue
		}
		rest = append(rest, e)
	}
	firstFree := func(team string) (slot, bool) {
		for ti, t := range teams {
			for ni := range t.Nodes {
				if (team == "" || t.Name == team) && free[slot{ti, ni}] {
					return slot{ti, ni}, true
				}
			}
		}
		return slot{}, false
	}
	var unnamed []machineEntry
	for _, e := range rest {
		if e.team == "" {
			unnamed = append(unnamed, e)
		} else if at, ok := firstFree(e.team); ok {
			place(e, at)
		} else {
			v.fail(e.key+".team", "team %s has no node left for %s: its other machines are its nodes already", e.team, e.Target())
		}
	}
	for _, e := range unnamed {
		if at, ok := firstFree(""); ok {
			place(e, at)
		}
	}
	for i := range teams {
		if teams[i].OnMachines() {
			teams[i].Subnet, teams[i].Gateway, teams[i].NetworkName = netip.Prefix{}, netip.Addr{}, ""
		}
	}
}

// Warnings about machines whose host key was trusted on this run's first contact.
func machineWarnings(teams []Team) []string {
	var out []string
	for _, t := range teams {
		for _, n := range t.Nodes {
			if n.Machine != nil && n.Machine.FirstSeen {
				out = append(out, fmt.Sprintf("machine %s (node %s) has no hostKey: labfleet trusted the key it presented on this first contact (%s) and pins it in the stack from now on (output machineHostKeys); check it against `ssh-keyscan -t ed25519 %s` run where you trust the network, or set it in labfleet:machines",
					n.Machine.Target(), n.Name, n.Machine.HostKey, n.Machine.Address))
			}
		}
	}
	return out
}
