// Package handout turns a cohort's stack outputs into what the instructor hands each team:
// a one-page card (Markdown), the team's private key, a known_hosts file with every node's
// pinned host key, and an ssh_config so `ssh -F team1.ssh_config team1-m1` just works.
package handout

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
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

// Team is one team's entry of the `teams` output.
type Team struct {
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

// NodesFor describes a planned team's nodes; the program exports exactly this.
func NodesFor(p *plan.Plan, t plan.Team, keys *sshkeys.Keys) []Node {
	var out []Node
	for _, n := range t.Nodes {
		target := p.SSHTarget(n)
		hostKey := strings.TrimSpace(keys.Host(n.Name).AuthorizedKey(""))
		out = append(out, Node{
			Name:       n.Name,
			Role:       string(n.Role),
			IP:         n.IP.String(),
			SSH:        target,
			SSHCommand: fmt.Sprintf("ssh -i %s.key -p %d %s@%s", t.Name, n.SSHPort, p.SSHUser, p.PublicHost),
			KnownHost:  fmt.Sprintf("[%s]:%d %s", p.PublicHost, n.SSHPort, hostKey),
		})
	}
	return out
}

// Files renders every team's handout files, by file name.
func Files(o Outputs) (map[string]string, error) {
	files := map[string]string{}
	names := make([]string, 0, len(o.Teams))
	for name := range o.Teams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := o.Teams[name]
		key, ok := o.StudentKeys[name]
		if !ok {
			return nil, fmt.Errorf("team %s has no key in studentKeys: run `pulumi stack output --json --show-secrets`", name)
		}
		var known, config strings.Builder
		for _, n := range t.Nodes {
			host, port, err := net.SplitHostPort(n.SSH)
			if err != nil {
				return nil, fmt.Errorf("team %s node %s: ssh %q: %w", name, n.Name, n.SSH, err)
			}
			known.WriteString(n.KnownHost + "\n")
			fmt.Fprintf(&config, "Host %s\n  HostName %s\n  Port %s\n  User %s\n  IdentityFile %s.key\n  IdentitiesOnly yes\n  UserKnownHostsFile %s.known_hosts\n  StrictHostKeyChecking yes\n\n",
				n.Name, host, port, t.SSHUser, name, name)
		}
		files[name+".md"] = card(name, t)
		files[name+".key"] = key
		files[name+".known_hosts"] = known.String()
		files[name+".ssh_config"] = config.String()
		if kc := o.Kubeconfigs[name]; kc != "" {
			files[name+".kubeconfig"] = kc
		}
	}
	return files, nil
}

func card(name string, t Team) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Team %s\n\n", name)
	fmt.Fprintf(&b, "Your swarm has %d nodes on the team network %s. Log in with the team key:\n\n", len(t.Nodes), t.Network)
	fmt.Fprintf(&b, "    chmod 600 %s.key\n    ssh -F %s.ssh_config %s\n\n", name, name, t.Nodes[0].Name)
	b.WriteString("| node | role | address | direct ssh |\n|---|---|---|---|\n")
	for _, n := range t.Nodes {
		host, port, _ := net.SplitHostPort(n.SSH)
		fmt.Fprintf(&b, "| %s | %s | %s | `ssh -i %s.key -p %s %s@%s` |\n", n.Name, n.Role, n.IP, name, port, t.SSHUser, host)
	}
	b.WriteString("\nThe host keys are pinned in " + name + ".known_hosts: if ssh warns about a changed key, stop and tell the instructor.\n")
	if len(t.AppURLs) > 0 {
		fmt.Fprintf(&b, "\nDay 2: the reference app answers on every node (%s mode): `curl %s`. Measure availability with `labprobe -url http://localhost:8080/health`.\n",
			t.RoutingMesh, t.AppURLs[0])
	}
	if t.Kind["state"] == "running" {
		fmt.Fprintf(&b, "\nDay 3: your Kubernetes cluster `%s` runs on %s; `kubectl get nodes` works on every node (API %s).\n",
			t.Kind["cluster"], t.Kind["hostNode"], t.Kind["apiServer"])
	}
	return b.String()
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
