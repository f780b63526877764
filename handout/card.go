package handout

import (
	"fmt"
	"net"
	"strings"

	"github.com/labfleet/labfleet/model/outputs"
)

// card is what a team is told, prepared once from the stack outputs for every rendering:
// the Markdown card, the printable HTML card and the ssh_config file.
type card struct {
	Team    string
	Host    string // the Docker host the nodes run on
	Network string
	SSHUser string
	Nodes   []cardNode

	KeyFile        string
	KnownHostsFile string
	ConfigFile     string
	KubeconfigFile string // empty when there is no kubeconfig to hand out (before day 3)

	// ConfigFile is one short block per node (its port) and one block for what all nodes
	// share, which keeps it short enough to type from the printed card.
	SSHConfigNodes  string
	SSHConfigShared string
	SSHConfig       string // the content of ConfigFile
	KnownHosts      string // the content of KnownHostsFile
	// Unpinned: some node's host key is not known (an existing machine whose key the
	// instructor did not give); ssh then asks to trust it on the first login.
	Unpinned bool

	AppURLs     []string // the Day-2 app through each node; empty without the Day-2 stack
	RoutingMesh string
	Cluster     *cluster // the Day-3 kind cluster; nil until it runs

	PrivateKey string // printed on the HTML card only when the instructor asks for it
}

type cardNode struct {
	Name, Role, IP string
	SSHCommand     string // a direct login, for when the ssh_config is not at hand
}

type cluster struct {
	Name, HostNode, APIServer string
}

func newCard(name string, t outputs.Team, kubeconfig string) (*card, error) {
	c := &card{
		Team: name, Host: t.Host, Network: t.Network, SSHUser: t.SSHUser,
		KeyFile: name + ".key", KnownHostsFile: name + ".known_hosts", ConfigFile: name + ".ssh_config",
		AppURLs: t.AppURLs, RoutingMesh: t.RoutingMesh,
	}
	if len(t.Nodes) == 0 {
		return nil, fmt.Errorf("team %s has no nodes in the teams output: run `pulumi up` first", name)
	}
	var known, perNode strings.Builder
	hosts := map[string]bool{}
	pinned := true
	for _, n := range t.Nodes {
		host, _, err := net.SplitHostPort(n.SSH)
		if err != nil {
			return nil, fmt.Errorf("team %s node %s: ssh %q: %w", name, n.Name, n.SSH, err)
		}
		hosts[host] = true
		pinned = pinned && n.KnownHost != ""
	}
	// Node containers share their host's address (one HostName for all); existing machines
	// each have their own.
	var publicHost string
	names := make([]string, 0, len(t.Nodes))
	for _, n := range t.Nodes {
		host, port, _ := net.SplitHostPort(n.SSH)
		if n.KnownHost != "" {
			known.WriteString(n.KnownHost + "\n")
		}
		if len(hosts) == 1 {
			publicHost = host
			fmt.Fprintf(&perNode, "Host %s\n  Port %s\n", n.Name, port)
		} else {
			fmt.Fprintf(&perNode, "Host %s\n  HostName %s\n  Port %s\n", n.Name, host, port)
		}
		names = append(names, n.Name)
		c.Nodes = append(c.Nodes, cardNode{Name: n.Name, Role: n.Role, IP: n.IP,
			SSHCommand: fmt.Sprintf("ssh -i %s -p %s %s@%s", c.KeyFile, port, t.SSHUser, host)})
	}
	c.KnownHosts = known.String()
	c.SSHConfigNodes = perNode.String()
	hostName := ""
	if publicHost != "" {
		hostName = "  HostName " + publicHost + "\n"
	}
	// A machine whose host key the instructor did not give cannot be pinned on the card.
	checking := "yes"
	if c.Unpinned = !pinned; c.Unpinned {
		checking = "accept-new"
	}
	c.SSHConfigShared = fmt.Sprintf("Host %s\n%s  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking %s\n",
		strings.Join(names, " "), hostName, t.SSHUser, c.KeyFile, c.KnownHostsFile, checking)
	c.SSHConfig = c.SSHConfigNodes + "\n" + c.SSHConfigShared
	if t.Kind["state"] == "running" {
		c.Cluster = &cluster{Name: t.Kind["cluster"], HostNode: t.Kind["hostNode"], APIServer: t.Kind["apiServer"]}
	}
	if kubeconfig != "" {
		c.KubeconfigFile = name + ".kubeconfig"
	}
	return c, nil
}

// FirstNode is where the card sends students first.
func (c *card) FirstNode() string { return c.Nodes[0].Name }

func (c *card) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Team %s\n\n", c.Team)
	where := ""
	if c.Network != "" {
		where = " on the team network " + c.Network
	}
	switch {
	case c.Host == outputs.MachinesHost:
		where += ", each on a machine of its own"
	case c.Host != "":
		where += ", on Docker host " + c.Host
	}
	fmt.Fprintf(&b, "Your swarm has %d nodes%s. Log in with the team key:\n\n", len(c.Nodes), where)
	fmt.Fprintf(&b, "    chmod 600 %s\n    ssh -F %s %s\n\n", c.KeyFile, c.ConfigFile, c.FirstNode())
	b.WriteString("| node | role | address | direct ssh |\n|---|---|---|---|\n")
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "| %s | %s | %s | `%s` |\n", n.Name, n.Role, n.IP, n.SSHCommand)
	}
	b.WriteString("\nThe host keys are pinned in " + c.KnownHostsFile + ": if ssh warns about a changed key, stop and tell the instructor.\n")
	if c.Unpinned {
		b.WriteString("Some machines' keys are not in it yet: ssh records them on your first login there.\n")
	}
	if len(c.AppURLs) > 0 {
		fmt.Fprintf(&b, "\nDay 2: the reference app answers on every node (%s mode): `curl %s`. Measure availability with `labprobe -url http://localhost:8080/health`.\n",
			c.RoutingMesh, c.AppURLs[0])
	}
	if c.Cluster != nil {
		fmt.Fprintf(&b, "\nDay 3: your Kubernetes cluster `%s` runs on %s; `kubectl get nodes` works on every node (API %s).\n",
			c.Cluster.Name, c.Cluster.HostNode, c.Cluster.APIServer)
	}
	return b.String()
}
