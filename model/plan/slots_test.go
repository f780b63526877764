package plan

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// factsOf is what the hosts hold after a run of p: its teams' networks and node containers.
func factsOf(p *Plan) map[string]HostFacts {
	facts := map[string]HostFacts{}
	for _, t := range p.Teams {
		if t.OnMachines() {
			continue
		}
		f := facts[t.Host]
		f.Networks = append(f.Networks, HostNetwork{Name: t.NetworkName, Cohort: p.Cohort, Team: t.Name, Subnets: []netip.Prefix{t.Subnet}})
		for _, n := range t.Nodes {
			f.Nodes = append(f.Nodes, HostNode{Container: n.ContainerName, Cohort: p.Cohort, Team: t.Name, Node: n.Name, IP: n.IP, SSHPort: n.SSHPort})
		}
		facts[t.Host] = f
	}
	return facts
}

// machineRecords is what the machines of p record being after a run.
func machineRecords(p *Plan) map[string]RecordedNode {
	out := map[string]RecordedNode{}
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			if n.Machine != nil {
				out[n.Machine.Target()] = RecordedNode{Cohort: p.Cohort, Team: t.Name, Node: n.Name}
			}
		}
	}
	return out
}

// Random sequences of the edits an instructor makes during a course (managers, workers,
// teams added and removed anywhere in the list) never move a node that exists: its address,
// SSH port and team subnet stay. Nor does a new node take the address or port of one this
// run removes (Pulumi deletes those last: the collision that emptied a team).
func TestEditsNeverMoveAnExistingNode(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 11))
		cfg := Defaults("edit")
		cfg.TeamNames = []string{"team1", "team2"}
		cfg.Teams = 2
		var before *Plan
		next := 3
		for step := range 30 {
			switch rng.IntN(5) {
			case 0:
				cfg.Managers = 1 + rng.IntN(5)
			case 1:
				cfg.Workers = rng.IntN(10 - cfg.Managers + 1)
			case 2:
				at := rng.IntN(len(cfg.TeamNames) + 1)
				cfg.TeamNames = slices.Insert(cfg.TeamNames, at, fmt.Sprintf("team%d", next))
				next++
			case 3:
				if len(cfg.TeamNames) > 1 {
					i := rng.IntN(len(cfg.TeamNames))
					cfg.TeamNames = slices.Delete(cfg.TeamNames, i, i+1)
				}
			case 4:
				rng.Shuffle(len(cfg.TeamNames), func(i, j int) { cfg.TeamNames[i], cfg.TeamNames[j] = cfg.TeamNames[j], cfg.TeamNames[i] })
			}
			cfg.Teams = len(cfg.TeamNames)
			cfg.Workers = min(cfg.Workers, NodeSlotsPerTeam-cfg.Managers)
			if before != nil {
				cfg.Slots = ExistingSlots(before, factsOf(before))
			}
			p, err := Build(cfg)
			if err != nil {
				if strings.Contains(err.Error(), "no free slot") {
					continue // refused before anything moves: the next run finds the slots free
				}
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if before != nil {
				assertNothingMoved(t, fmt.Sprintf("seed %d step %d", seed, step), before, p)
			}
			before = p
		}
	}
}

func assertNothingMoved(t *testing.T, at string, before, after *Plan) {
	t.Helper()
	was := map[string]Node{}
	subnet := map[string]string{}
	for _, tm := range before.Teams {
		subnet[tm.Name] = tm.Subnet.String()
		for _, n := range tm.Nodes {
			was[n.Name] = n
		}
	}
	taken := map[string]string{} // address or port -> node
	for _, tm := range after.Teams {
		if s, ok := subnet[tm.Name]; ok && s != tm.Subnet.String() {
			t.Fatalf("%s: team %s moved from %s to %s", at, tm.Name, s, tm.Subnet)
		}
		for _, n := range tm.Nodes {
			if w, ok := was[n.Name]; ok && (w.IP != n.IP || w.SSHPort != n.SSHPort) {
				t.Fatalf("%s: node %s moved from %s:%d to %s:%d", at, n.Name, w.IP, w.SSHPort, n.IP, n.SSHPort)
			}
			for _, k := range []string{n.IP.String(), fmt.Sprint(n.SSHPort)} {
				if other, dup := taken[k]; dup {
					t.Fatalf("%s: %s and %s share %s", at, other, n.Name, k)
				}
				taken[k] = n.Name
			}
		}
	}
	// Nodes this run removes still hold their address and port until it ends.
	for name, w := range was {
		for _, k := range []string{w.IP.String(), fmt.Sprint(w.SSHPort)} {
			if other, ok := taken[k]; ok && other != name {
				t.Fatalf("%s: new node %s takes %s of %s, which this run removes only at its end", at, other, k, name)
			}
		}
	}
}

// Machines added to and removed from labfleet:machines, with teams and nodes changing
// with them, never move a machine that is a node to another node or team.
func TestEditsNeverMoveAnExistingMachine(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 13))
		cfg := Defaults("edit")
		cfg.Teams, cfg.Managers, cfg.Workers = 2, 1, 1
		addr := 10
		machine := func() MachineConfig { addr++; return MachineConfig{Address: fmt.Sprintf("10.0.0.%d", addr)} }
		for range 4 {
			cfg.Machines = append(cfg.Machines, machine())
		}
		recorded := map[string]RecordedNode{}
		for step := range 30 {
			perTeam := cfg.Managers + cfg.Workers
			switch rng.IntN(3) {
			case 0: // a team more, its machines anywhere in the list
				cfg.Teams++
				for range perTeam {
					cfg.Machines = slices.Insert(cfg.Machines, rng.IntN(len(cfg.Machines)+1), machine())
				}
			case 1: // a team fewer: the instructor drops some machines, anywhere
				if cfg.Teams > 1 {
					cfg.Teams--
					for range perTeam {
						i := rng.IntN(len(cfg.Machines))
						cfg.Machines = slices.Delete(cfg.Machines, i, i+1)
					}
				}
			case 2: // a worker more in every team
				if perTeam < 4 {
					cfg.Workers++
					for range cfg.Teams {
						cfg.Machines = slices.Insert(cfg.Machines, rng.IntN(len(cfg.Machines)+1), machine())
					}
				}
			}
			cfg.MachineNodes = recorded
			p, err := Build(cfg)
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			now := machineRecords(p)
			for target, r := range now {
				if was, ok := recorded[target]; ok && was != r {
					// Only a machine whose node is gone may take another one.
					if _, stillPlanned := findNode(p, was.Team, was.Node); stillPlanned {
						t.Fatalf("seed %d step %d: machine %s moved from %s/%s to %s/%s", seed, step, target, was.Team, was.Node, r.Team, r.Node)
					}
				}
			}
			recorded = now
		}
	}
}

func findNode(p *Plan, team, node string) (Node, bool) {
	for _, t := range p.Teams {
		if t.Name == team {
			return t.Node(node)
		}
	}
	return Node{}, false
}

func TestAMachineOfAnotherCohortIsRefused(t *testing.T) {
	cfg := Defaults("spring")
	cfg.Teams, cfg.Managers, cfg.Workers = 1, 1, 0
	cfg.Machines = []MachineConfig{{Address: "10.0.0.11"}}
	cfg.MachineNodes = map[string]RecordedNode{"10.0.0.11:22": {Cohort: "winter", Team: "team3", Node: "team3-w1"}}
	_, err := Build(cfg)
	if err == nil || !strings.Contains(err.Error(), "labfleet:machines[0]: 10.0.0.11:22 is node team3-w1 of cohort winter") {
		t.Fatalf("err = %v", err)
	}
}

// A team's subnet and ports follow its slot, read back from its network and containers,
// also where the address pool setting changed (then from the SSH ports).
func TestExistingSlotsAreReadBack(t *testing.T) {
	cfg := Defaults("c")
	cfg.Managers, cfg.Workers = 3, 2
	cfg.Slots = Slots{Teams: map[string]int{"team1": 4, "team2": 0}, Nodes: map[string]map[string]int{"team1": {"team1-m1": 0, "team1-w1": 1, "team1-w2": 2}}}
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := ExistingSlots(p, factsOf(p))
	if fmt.Sprint(got.Teams) != "map[team1:4 team2:0]" || fmt.Sprint(got.Nodes["team1"]) != "map[team1-m1:0 team1-m2:3 team1-m3:4 team1-w1:1 team1-w2:2]" {
		t.Errorf("slots read back: %v %v", got.Teams, got.Nodes["team1"])
	}
	if p.Teams[0].Subnet.String() != "172.30.4.0/24" || p.Teams[0].Nodes[1].SSHPort != 2243 {
		t.Errorf("team1 at %s, its m2 on port %d", p.Teams[0].Subnet, p.Teams[0].Nodes[1].SSHPort)
	}
	moved := factsOf(p)
	cfg.AddressPool = "10.99.0.0/16"
	again, _ := Build(cfg)
	if got := ExistingSlots(again, moved); fmt.Sprint(got.Teams) != "map[team1:4 team2:0]" {
		t.Errorf("after the pool changed, slots read back from the ports: %v", got.Teams)
	}
}
