package status

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labfleet/labfleet/stacks/day2"
)

// NotReady names the teams that are not ready, in the cohort's order.
func (r Report) NotReady() []string {
	var names []string
	for _, t := range r.Teams {
		if !t.Ready {
			names = append(names, t.Team)
		}
	}
	return names
}

// Problems lists every team's problems, each prefixed with its team.
func (r Report) Problems() []string {
	var all []string
	for _, t := range r.Teams {
		for _, p := range t.Problems {
			all = append(all, t.Team+": "+p)
		}
	}
	return all
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)

// WriteTable writes one line per team, then what is wrong with each team that is not
// ready. colour adds ANSI colours to the state and the problems (for a terminal).
func (r Report) WriteTable(w io.Writer, colour bool) error {
	paint := func(c, s string) string {
		if !colour {
			return s
		}
		return c + s + reset
	}
	nodes := 0
	for _, t := range r.Teams {
		nodes += len(t.Nodes)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cohort %s: %s, %s, checked in %s\n\n", r.Cohort, count(len(r.Teams), "team"), count(nodes, "node"), time.Duration(r.TookMS)*time.Millisecond)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tHOST\tNODES\tSWARM\tDAY-2 STACK\tSTUDENTS' SERVICES\tKIND\tSTATE")
	for _, t := range r.Teams {
		state := paint(green, "ready")
		if !t.Ready {
			state = paint(red, "NOT READY")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Team, cmp.Or(t.Host, "-"), t.nodesCell(), t.swarmCell(), day2Cell(t.Day2), studentsCell(t.Students), kindCell(t.Kind), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.Teams {
		if t.Ready {
			continue
		}
		fmt.Fprintf(&b, "\n%s is not ready:\n", t.Team)
		for _, p := range t.Problems {
			fmt.Fprintf(&b, "  %s\n", paint(red, p))
		}
	}
	if bad := r.NotReady(); len(bad) > 0 {
		fmt.Fprintf(&b, "\n%s\n", paint(red, fmt.Sprintf("%d of %d teams not ready: %s", len(bad), len(r.Teams), strings.Join(bad, ", "))))
	} else {
		fmt.Fprintf(&b, "\n%s\n", paint(green, fmt.Sprintf("all %s ready", count(len(r.Teams), "team"))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// nodesCell counts the nodes that answer SSH and whose dockerd answers.
func (t TeamStatus) nodesCell() string {
	up := 0
	for _, n := range t.Nodes {
		if n.Reachable && n.Error == "" {
			up++
		}
	}
	return fmt.Sprintf("%d/%d", up, len(t.Nodes))
}

// swarmCell counts the Ready members and names each manager's status and each node that
// does not take tasks: "3/3 Ready, m1 leader", "2/3 Ready, m1 leader, w2 drain".
func (t TeamStatus) swarmCell() string {
	ready, listed := 0, 0
	var notes []string
	for _, n := range t.Nodes {
		if n.Status == "" {
			continue
		}
		listed++
		if n.Status == "Ready" {
			ready++
		}
		short := strings.TrimPrefix(n.Name, t.Team+"-")
		if n.ManagerStatus != "" {
			notes = append(notes, short+" "+strings.ToLower(n.ManagerStatus))
		}
		if n.Availability != "" && n.Availability != "Active" {
			notes = append(notes, short+" "+strings.ToLower(n.Availability))
		}
	}
	if listed == 0 {
		return "?"
	}
	return strings.Join(append([]string{fmt.Sprintf("%d/%d Ready", ready, len(t.Nodes))}, notes...), ", ")
}

func replicas(s Service) string { return fmt.Sprintf("%s %d/%d", s.Name, s.Running, s.Desired) }

// day2Cell shows the day2 stack's services without the stack prefix: "web 3/3, edge 3/3".
func day2Cell(services []Service) string {
	if len(services) == 0 {
		return "-"
	}
	var cells []string
	for _, s := range services {
		s.Name = strings.TrimPrefix(s.Name, day2.StackName+"_")
		cells = append(cells, replicas(s))
	}
	return strings.Join(cells, ", ")
}

// studentsCell shows the students' first few services; --json has them all.
func studentsCell(services []Service) string {
	const shown = 3
	if len(services) == 0 {
		return "-"
	}
	var cells []string
	for i, s := range services {
		if i == shown {
			cells = append(cells, fmt.Sprintf("+%d more", len(services)-shown))
			break
		}
		cells = append(cells, replicas(s))
	}
	return strings.Join(cells, ", ")
}

func kindCell(k *KindState) string {
	if k == nil {
		return "-"
	}
	ready := 0
	for _, n := range k.Nodes {
		if n.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d Ready", ready, len(k.Nodes))
}
