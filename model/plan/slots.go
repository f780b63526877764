package plan

import (
	"fmt"
	"net/netip"
	"slices"
)

// Slots are where a cohort's teams and nodes sit. A team's slot picks its subnet in its
// host's address pool and its block of SSH ports; a node's slot picks its address and port
// within them. Read back from what exists (ExistingSlots), a slot never changes while its
// team or node exists: raising labfleet:managers puts the new managers in free slots
// instead of renumbering the workers, which replaced their containers and lost the
// students' work. A new cohort's slots follow the config's order, managers first.
type Slots struct {
	Teams map[string]int            // team -> slot
	Nodes map[string]map[string]int // team -> node name -> slot
}

// ExistingSlots reads the slots of the cohort's teams and nodes that exist on the hosts:
// a team's from its network's subnet in its host's pool, a node's from its container's
// address in that subnet. Where the pool setting changed, the published SSH ports say it
// instead (the block of the team, the port of the node).
func ExistingSlots(p *Plan, facts map[string]HostFacts) Slots {
	s := Slots{Teams: map[string]int{}, Nodes: map[string]map[string]int{}}
	for _, h := range p.Hosts {
		f := facts[h.Name]
		subnets := map[string]netip.Prefix{}
		for _, n := range f.Networks {
			if n.Cohort != p.Cohort || n.Team == "" || len(n.Subnets) == 0 {
				continue
			}
			subnets[n.Team] = n.Subnets[0]
			if slot, ok := subnetSlot(h.AddressPool, n.Subnets[0]); ok {
				s.Teams[n.Team] = slot
			}
		}
		for _, n := range f.Nodes {
			if n.Cohort != p.Cohort || n.Team == "" || n.Node == "" {
				continue
			}
			team, node, fromPort := -1, -1, n.SSHPort-h.SSHPortBase
			if fromPort >= 0 && n.SSHPort > 0 {
				team, node = fromPort/NodeSlotsPerTeam, fromPort%NodeSlotsPerTeam
			}
			if sub, ok := subnets[n.Team]; ok && sub.Contains(n.IP) {
				node = addrOffset(sub.Addr(), n.IP) - FirstNodeHost
			}
			if _, known := s.Teams[n.Team]; !known && team >= 0 {
				s.Teams[n.Team] = team
			}
			if node >= 0 && node < NodeSlotsPerTeam {
				if s.Nodes[n.Team] == nil {
					s.Nodes[n.Team] = map[string]int{}
				}
				s.Nodes[n.Team][n.Node] = node
			}
		}
	}
	return s
}

// subnetSlot is the position of a team subnet in a pool.
func subnetSlot(pool, subnet netip.Prefix) (int, bool) {
	if !pool.IsValid() || !pool.Contains(subnet.Addr()) || subnet.Bits() != TeamPrefixBits {
		return 0, false
	}
	return addrOffset(pool.Addr(), subnet.Addr()) >> (32 - TeamPrefixBits), true
}

func addrOffset(base, a netip.Addr) int {
	b, x := base.As4(), a.As4()
	v := func(q [4]byte) int { return int(q[0])<<24 | int(q[1])<<16 | int(q[2])<<8 | int(q[3]) }
	return v(x) - v(b)
}

// assignSlots gives every name a slot below limit: the one it has in existing, else the
// lowest one free, in order. Every slot in existing stays taken, also those of names no
// longer listed: their containers are deleted only at the end of the run that drops them,
// so handing their addresses and ports to a new node in the same run collides with them.
func assignSlots(names []string, existing map[string]int, limit int) (map[string]int, error) {
	out := map[string]int{}
	taken := map[int]string{}
	for _, name := range sortedKeys(existing) {
		if slot := existing[name]; slot >= 0 && slot < limit {
			if _, dup := taken[slot]; !dup {
				taken[slot] = name
			}
		}
	}
	for _, name := range names {
		if slot, ok := existing[name]; ok && taken[slot] == name {
			out[name] = slot
		}
	}
	next := 0
	for _, name := range names {
		if _, done := out[name]; done {
			continue
		}
		for _, used := taken[next]; used; _, used = taken[next] {
			next++
		}
		if next >= limit {
			var leaving []string
			for _, n := range sortedKeys(existing) {
				if !slices.Contains(names, n) {
					leaving = append(leaving, n)
				}
			}
			return nil, fmt.Errorf("no free slot for %s among %d (still taken by %v, which this run removes): run pulumi up once to remove them, then again", name, limit, leaving)
		}
		out[name], taken[next] = next, name
	}
	return out, nil
}
