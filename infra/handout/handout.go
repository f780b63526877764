// Package handout turns a cohort's stack outputs into what the instructor hands each team:
// a one-page card (Markdown, and HTML to print on A4), the team's private key, a known_hosts
// file with every node's pinned host key, and an ssh_config so `ssh -F team1.ssh_config team1-m1`
// just works.
package handout

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/sshkeys"
	"github.com/labfleet/labfleet/infra/plan"
)

// Outputs is the part of `pulumi stack output --json --show-secrets` a handout needs.
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

// An Option changes what Files renders.
type Option func(*options)

type options struct{ keysOnCards bool }

// KeysOnCards prints each team's private key on its HTML card, under a warning. Without it
// the key is only in its own file: paper gets copied, photographed and left on desks.
func KeysOnCards(o *options) { o.keysOnCards = true }

// Files renders every team's handout files, by file name: per team the Markdown card, the
// printable HTML card, the private key, known_hosts and ssh_config (and the kubeconfig on
// day 3), and AllTeamsFile with every team's card, one per printed page.
func Files(o Outputs, opts ...Option) (map[string]string, error) {
	var set options
	for _, opt := range opts {
		opt(&set)
	}
	files := map[string]string{}
	var cards []*card
	for _, name := range o.TeamNames() {
		key, ok := o.StudentKeys[name]
		if !ok {
			return nil, fmt.Errorf("team %s has no key in studentKeys: run `pulumi stack output --json --show-secrets`", name)
		}
		c, err := newCard(name, o.Teams[name], o.Kubeconfigs[name])
		if err != nil {
			return nil, err
		}
		if set.keysOnCards {
			c.PrivateKey = key
		}
		page, err := renderHTML("Team "+name+": lab access", []*card{c})
		if err != nil {
			return nil, err
		}
		files[name+".md"] = c.markdown()
		files[name+".html"] = page
		files[c.KeyFile] = key
		files[c.KnownHostsFile] = c.KnownHosts
		files[c.ConfigFile] = c.SSHConfig
		if c.KubeconfigFile != "" {
			files[c.KubeconfigFile] = o.Kubeconfigs[name]
		}
		cards = append(cards, c)
	}
	if len(cards) > 0 {
		all, err := renderHTML(fmt.Sprintf("Lab access: %d teams", len(cards)), cards)
		if err != nil {
			return nil, err
		}
		files[AllTeamsFile] = all
	}
	return files, nil
}

// Write puts the files in dir, each readable by its owner only (0600), also when it
// already existed with wider rights: keys and kubeconfigs are among them, and the rest
// names the cohort's hosts and ports.
func Write(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, content := range files {
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return err
		}
		_, err = tmp.WriteString(content)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dir, name))
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}
