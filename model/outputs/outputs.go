// Package outputs is the schema of a cohort's stack outputs: the program exports it, and the
// handouts and status read it back from `pulumi stack output --json`. One definition, so the
// writer and its readers cannot drift apart.
package outputs

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// Outputs is the part of `pulumi stack output --json --show-secrets` that handouts and status read.
type Outputs struct {
	Teams       map[string]Team   `json:"teams"`
	StudentKeys map[string]string `json:"studentKeys"`
	Kubeconfigs map[string]string `json:"kubeconfigs"`
}

// MachinesHost is the host the teams output names for a team on existing machines.
const MachinesHost = "machines"

// Team is one team's entry of the `teams` output.
type Team struct {
	Host        string            `json:"host"` // the Docker host the team's nodes run on
	Nodes       []Node            `json:"nodes"`
	SSHUser     string            `json:"sshUser"`
	Network     string            `json:"network"`
	AppURLs     []string          `json:"appUrls"`
	RoutingMesh string            `json:"routingMesh"`
	Kind        map[string]string `json:"kind"`
}

// Node is one node of a team, as the stack exports it.
type Node struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	IP         string `json:"ip"`
	SSH        string `json:"ssh"`
	SSHCommand string `json:"sshCommand"`
	KnownHost  string `json:"knownHost"` // a known_hosts line, so students verify instead of trusting on first use
}

// TeamNames names the teams in the cohort's order, the plan's: by their first node's SSH
// port (team2 before team10), then by name. Every listing of the cohort uses it.
func (o Outputs) TeamNames() []string {
	return slices.SortedFunc(maps.Keys(o.Teams), func(a, b string) int {
		return cmp.Or(cmp.Compare(o.Teams[a].firstSSHPort(), o.Teams[b].firstSSHPort()), strings.Compare(a, b))
	})
}

// firstSSHPort is the SSH port of the team's first node; 0 when the team exports no nodes
// (its last `pulumi up` failed) or the address has no port.
func (t Team) firstSSHPort() int {
	if len(t.Nodes) == 0 {
		return 0
	}
	_, port, _ := net.SplitHostPort(t.Nodes[0].SSH)
	p, _ := strconv.Atoi(port)
	return p
}

// NodesFor describes a planned team's nodes; the program exports exactly this.
func NodesFor(p *plan.Plan, t plan.Team, keys *sshkeys.Keys) []Node {
	var out []Node
	for _, n := range t.Nodes {
		target := p.SSHTarget(n)
		public, port, _ := net.SplitHostPort(target)
		hostKey := strings.TrimSpace(keys.Host(n.Name).AuthorizedKey(""))
		if n.Machine != nil {
			hostKey = n.Machine.HostKey // "" when the instructor did not pin it
		}
		known := ""
		if hostKey != "" {
			known = knownHostsLine(public, port, hostKey)
		}
		out = append(out, Node{
			Name:       n.Name,
			Role:       string(n.Role),
			IP:         n.IP.String(),
			SSH:        target,
			SSHCommand: fmt.Sprintf("ssh -i %s.key -p %s %s@%s", t.Name, port, p.SSHUser, public),
			KnownHost:  known,
		})
	}
	return out
}

// knownHostsLine is how OpenSSH records a host key: bare for port 22, "[host]:port" otherwise.
func knownHostsLine(host, port, key string) string {
	if port == "22" {
		return host + " " + key
	}
	return fmt.Sprintf("[%s]:%s %s", host, port, key)
}
