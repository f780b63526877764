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
	HostKey    string `json:"hostKey"`    // its SSH host key, as in known_hosts ("ssh-ed25519 AAAA..."); "" trusts the first key seen, with a warning
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
}

// Target is "host:port" where labfleet and the students reach the machine's sshd.
func (m Machine) Target() string { return net.JoinHostPort(m.PublicHost, strconv.Itoa(m.Port)) }

// OnMachines reports whether the team's nodes are existing machines rather than containers.
func (t Team) OnMachines() bool { return len(t.Nodes) > 0 && t.Nodes[0].Machine != nil }

var (
	userPattern    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	hostKeyPattern = regexp.MustCompile(`^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( .*)?$`)
)

// machines validates labfleet:machines and gives every team its machines: those naming a
// team first, then the others in order. The count must match the teams' nodes exactly, so
// that no machine is silently left out or missing.
func (v *validator) machines(cfg Config, teams []string) map[string][]Machine {
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
	out := map[string][]Machine{}
	seen := map[string]bool{}
	var unassigned []Machine
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
		switch {
		case mc.Team == "":
			unassigned = append(unassigned, m)
		case !slices.Contains(teams, mc.Team):
			v.fail(key+".team", "%q is not a team of the cohort (teams: %s)", mc.Team, strings.Join(teams, ", "))
		case len(out[mc.Team]) == perTeam:
			v.fail(key+".team", "team %s has %d machines already (%d managers + %d workers)", mc.Team, perTeam, cfg.Managers, cfg.Workers)
		default:
			out[mc.Team] = append(out[mc.Team], m)
		}
	}
	for _, t := range teams {
		for len(out[t]) < perTeam && len(unassigned) > 0 {
			out[t] = append(out[t], unassigned[0])
			unassigned = unassigned[1:]
		}
	}
	return out
}

// onMachines gives a laid-out team its machines: each node's address, and its SSH port.
func onMachines(t *Team, machines []Machine) {
	for i := range t.Nodes {
		m := machines[i]
		t.Nodes[i].Machine = &m
		t.Nodes[i].IP = m.Address
		t.Nodes[i].SSHPort = m.Port
	}
	t.Subnet, t.Gateway, t.NetworkName = netip.Prefix{}, netip.Addr{}, ""
}

// Warnings about machines whose host key is not pinned.
func machineWarnings(teams []Team) []string {
	var out []string
	for _, t := range teams {
		for _, n := range t.Nodes {
			if n.Machine != nil && n.Machine.HostKey == "" {
				out = append(out, fmt.Sprintf("machine %s (node %s) has no hostKey: labfleet trusts the first key it sees on each run; pin it with the line from `ssh-keyscan -t ed25519 %s`",
					n.Machine.Target(), n.Name, n.Machine.Address))
			}
		}
	}
	return out
}
