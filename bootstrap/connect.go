package bootstrap

import (
	"context"
	"strings"
	"sync"

	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// connect is the stage after which a node is only an SSH login: it opens a client to every
// node of the team and names the nodes the later stages run commands on.
func connect(ctx context.Context, t *teamRun) (err error) {
	if t.clients, err = Connect(ctx, t.p, t.team, t.keys, t.opts.SSH); err != nil {
		return err
	}
	t.nodes = make([]steps.Node, len(t.team.Nodes))
	for i, n := range t.team.Nodes {
		t.nodes[i] = steps.Node{Name: n.Name, Role: n.Role, IP: n.IP.String(), Run: t.clients[n.Name]}
	}
	return nil
}

// readAccel reads how a team's VM guests run (KVM or TCG, as their launcher chose): the
// stages after it are paced by it.
func readAccel(ctx context.Context, t *teamRun) error {
	out, err := t.clients[t.team.Nodes[0].Name].Run(ctx, "cat /etc/labfleet/accel")
	t.result.Accel = strings.TrimSpace(out)
	return err
}

// Connect opens an SSH client to every node of a team, concurrently, as labfleet's own
// admin user: students cannot lock it out by changing their account or the team key. On error every
// client already opened is closed. How long it waits for a node's sshd to answer scales
// with the Pace ctx carries: a VM guest under TCG takes a minute to boot.
func Connect(ctx context.Context, p *plan.Plan, team plan.Team, keys *sshkeys.Keys, opts sshexec.Options) (map[string]*sshexec.Client, error) {
	if opts == (sshexec.Options{}) {
		opts = sshexec.DefaultOptions
	}
	pace := steps.PaceOf(ctx)
	opts.RetryFor, opts.AttemptTimeout = pace.Scale(opts.RetryFor), pace.Scale(opts.AttemptTimeout)
	clients := map[string]*sshexec.Client{}
	var mu sync.Mutex
	admin := keys.Admin().Signer()
	err := steps.Each(team.Nodes, func(n plan.Node) error {
		hostKey, err := nodeHostKey(n, keys)
		if err != nil {
			return err
		}
		c, err := sshexec.Dial(ctx, sshexec.Target{
			Node:    n.Name,
			Addr:    p.SSHTarget(n),
			User:    plan.AdminUser,
			Signer:  admin,
			HostKey: hostKey,
		}, opts)
		if err != nil {
			return err
		}
		mu.Lock()
		clients[n.Name] = c
		mu.Unlock()
		return nil
	})
	if err != nil {
		CloseAll(clients)
		return nil, err
	}
	return clients, nil
}

// CloseAll closes every client.
func CloseAll(clients map[string]*sshexec.Client) {
	for _, c := range clients {
		c.Close()
	}
}
