package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap/machines"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// Machine is an existing machine as a team's outputs record it, for its teardown.
type Machine struct {
	Node    string
	Target  string // host:port
	User    string // its admin login
	HostKey string // pinned, or "" to trust the key it presents
}

// MachineOf is a planned node's machine, as labfleet logs in to it.
func MachineOf(n plan.Node) Machine {
	return Machine{Node: n.Name, Target: n.Machine.Target(), User: n.Machine.User, HostKey: n.Machine.HostKey}
}

// prepareMachines makes a team's existing machines look like node containers, logged in as
// each machine's own admin user: Docker and the tools installed, dockerd running, the student
// account with the team key and labfleet's account with its own key. After it, the team's
// run is the same as anywhere. What it changed goes in the team's result.
func prepareMachines(ctx context.Context, t *teamRun) (err error) {
	ms := make([]Machine, len(t.team.Nodes))
	for i, n := range t.team.Nodes {
		ms[i] = MachineOf(n)
	}
	setup := machines.Setup{
		StudentKey: t.keys.Student(t.team.Name).AuthorizedKey(t.p.SSHUser + "@" + t.team.Name),
		AdminKey:   t.keys.Admin().AuthorizedKey(plan.AdminUser + "@" + t.p.Cohort),
	}
	t.result.Machines, err = onEachMachine(ctx, ms, t.keys.Machine(), t.opts.SSH, func(ctx context.Context, c *sshexec.Client, m Machine) ([]string, error) {
		s := setup
		s.Cohort, s.Team, s.Node = t.p.Cohort, t.team.Name, m.Node
		return machines.Prepare(ctx, c, s)
	})
	return err
}

// TeardownLimit bounds the teardown of one machine, login included: measured at 4-10 s for
// a whole team here, minutes only when dockerd or kind hang, which would otherwise hold
// pulumi destroy for ever.
const TeardownLimit = 5 * time.Minute

// TeardownMachines removes labfleet from a team's machines, all at once, leaving them
// reusable (see machines.Teardown), and returns what it removed. Every failure names the
// team and the machine; each machine's teardown stops at TeardownLimit, or when ctx ends.
func TeardownMachines(ctx context.Context, team string, ms []Machine, signer ssh.Signer, opts sshexec.Options) ([]string, error) {
	return teardownMachines(ctx, team, ms, signer, opts, TeardownLimit)
}

func teardownMachines(ctx context.Context, team string, ms []Machine, signer ssh.Signer, opts sshexec.Options, limit time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("the teardown took longer than its %s limit", limit))
	defer cancel()
	actions, err := onEachMachine(ctx, ms, signer, opts, func(ctx context.Context, c *sshexec.Client, m Machine) ([]string, error) {
		did, err := machines.Teardown(ctx, c, m.Node)
		if err != nil {
			err = fmt.Errorf("machine %s (node %s): %w", m.Target, m.Node, err)
		}
		return did, err
	})
	if err != nil {
		err = fmt.Errorf("team %s: removing labfleet from its machines: %w", team, err)
	}
	return actions, err
}

// onEachMachine logs in to every machine at once as its admin user, runs do there, and
// gathers what each changed.
func onEachMachine(ctx context.Context, ms []Machine, signer ssh.Signer, opts sshexec.Options, do func(context.Context, *sshexec.Client, Machine) ([]string, error)) ([]string, error) {
	var mu sync.Mutex
	var actions []string
	err := steps.Each(ms, func(m Machine) error {
		did, err := dialAndDo(ctx, m, signer, opts, do)
		mu.Lock()
		actions = append(actions, did...)
		mu.Unlock()
		return err
	})
	return actions, err
}

// dialAndDo logs in to one machine and runs do there. An error that ctx's end caused says
// why ctx ended (steps.WithCause).
func dialAndDo(ctx context.Context, m Machine, signer ssh.Signer, opts sshexec.Options, do func(context.Context, *sshexec.Client, Machine) ([]string, error)) ([]string, error) {
	c, err := DialMachine(ctx, m, signer, opts)
	var did []string
	if err == nil {
		did, err = do(ctx, c, m)
		c.Close()
	}
	return did, steps.WithCause(ctx, err)
}

// DialMachine logs in to a machine as its admin user, checking its pinned host key when one
// was given.
func DialMachine(ctx context.Context, m Machine, signer ssh.Signer, opts sshexec.Options) (*sshexec.Client, error) {
	if signer == nil {
		return nil, fmt.Errorf("node %s: no labfleet:machineKey to log in to machine %s with", m.Node, m.Target)
	}
	hostKey, err := parseHostKey(m.HostKey)
	if err != nil {
		return nil, fmt.Errorf("node %s: machine %s: %w", m.Node, m.Target, err)
	}
	return sshexec.Dial(ctx, sshexec.Target{Node: m.Node, Addr: m.Target, User: m.User, Signer: signer, HostKey: hostKey}, opts)
}

// parseHostKey reads a known_hosts-style key ("ssh-ed25519 AAAA..."); "" gives nil, which
// trusts the key the machine presents.
func parseHostKey(line string) (ssh.PublicKey, error) {
	if strings.TrimSpace(line) == "" {
		return nil, nil
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("host key %q: %w", line, err)
	}
	return key, nil
}

// nodeHostKey is the host key labfleet pins for a node: derived for a node container,
// given for an existing machine (nil when not given: trusted as presented).
func nodeHostKey(n plan.Node, keys *sshkeys.Keys) (ssh.PublicKey, error) {
	if n.Machine != nil {
		return parseHostKey(n.Machine.HostKey)
	}
	return keys.Host(n.Name).PublicKey(), nil
}
