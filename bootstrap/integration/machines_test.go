package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/bootstrap/machines"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// The test machines: plain Debian containers with sshd and sudo only (testdata/machine),
// standing in for an instructor's VMs. After they start, the test reaches them over SSH only.
const (
	machineImage   = "lfit-mach-machine:latest"
	machineNetwork = "lfit-mach"
	machineSubnet  = "10.64.0.0/24"
)

var machineImageBuild imageBuild

// testMachine is one started machine and the keys to reach it.
type testMachine struct {
	index                       int // in the test's list
	name, container, volume, ip string
	hostKey                     sshkeys.KeyPair
}

// startMachines starts n machines on their own network, each with admin's key for its
// "admin" login and a host key the test pins. They are stopped (their init stops the dockerd
// that labfleet started, as a VM's shutdown would) and removed with their volumes at the end.
func startMachines(t *testing.T, keys *sshkeys.Keys, admin sshkeys.KeyPair, n int) []testMachine {
	t.Helper()
	machineImageBuild.require(t, machineImage, filepath.Join(repoRoot(), "bootstrap/integration/testdata/machine"))
	ctx := context.Background()
	var ms []testMachine
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("m%d", i)
		ms = append(ms, testMachine{index: i - 1, name: name, container: "lfit-mach-" + name, volume: "lfit-mach-" + name + "-docker",
			ip: fmt.Sprintf("10.64.0.%d", 10+i), hostKey: keys.Host(name)})
	}
	remove := func() {
		for _, m := range ms {
			docker(ctx, "stop", "-t", "20", m.container)
			docker(ctx, "rm", "-v", "-f", m.container)
			docker(ctx, "volume", "rm", m.volume)
		}
		docker(ctx, "network", "rm", machineNetwork)
	}
	remove() // what an interrupted run left
	t.Cleanup(remove)
	if _, err := docker(ctx, "network", "create", "--subnet", machineSubnet, machineNetwork); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, []byte(admin.AuthorizedKey("instructor")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		hostKey := filepath.Join(dir, m.name+".key")
		if err := os.WriteFile(hostKey, []byte(m.hostKey.PrivateKeyPEM(m.name)), 0o600); err != nil {
			t.Fatal(err)
		}
		// The reduced privilege of model/nodecontainer (the dind nodes'), and a volume for
		// dockerd's data as a VM has a disk of its own.
		args := []string{"create", "--name", m.container, "--hostname", m.name, "--network", machineNetwork, "--ip", m.ip,
			"--mount", "type=volume,source=" + m.volume + ",target=/var/lib/docker",
			"--cap-add", "ALL", "--cap-drop", "CAP_SYS_RESOURCE",
			"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
			"--tmpfs", "/run:rw,exec,nosuid,nodev,size=64m", "--tmpfs", "/tmp:rw,exec,nosuid,nodev",
			"--memory", "1g", "--memory-swap", "1g", "--stop-timeout", "20", machineImage}
		for _, step := range [][]string{
			args,
			{"cp", hostKey, m.container + ":/etc/ssh/ssh_host_ed25519_key"},
			{"cp", auth, m.container + ":/home/admin/.ssh/authorized_keys"},
			{"start", m.container},
		} {
			if _, err := docker(ctx, step...); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ms
}

// login opens an SSH session on a machine as user with key, pinning the machine's host key.
func (m testMachine) login(ctx context.Context, user string, key sshkeys.KeyPair) (*sshexec.Client, error) {
	return sshexec.Dial(ctx, sshexec.Target{Node: m.name, Addr: m.ip + ":22", User: user, Signer: key.Signer(), HostKey: m.hostKey.PublicKey()},
		sshexec.DefaultOptions)
}

func (m testMachine) mustRun(t *testing.T, c *sshexec.Client, cmd string) string {
	t.Helper()
	out, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// onEach runs fn on every machine at once, as the bootstrap does, and returns each one's
// actions and how long all took.
func onEach(t *testing.T, ms []testMachine, what string, fn func(context.Context, testMachine) ([]string, error)) ([][]string, time.Duration) {
	t.Helper()
	// apt downloads and installs about 85 MB per machine; on a shared 2-CPU host that can
	// take a few minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	actions := make([][]string, len(ms))
	at := map[string]int{} // a machine's place in ms, which may be part of the test's list
	for i, m := range ms {
		at[m.name] = i
	}
	var mu sync.Mutex
	start := time.Now()
	err := steps.Each(ms, func(m testMachine) error {
		a, err := fn(ctx, m)
		mu.Lock()
		defer mu.Unlock()
		for _, line := range a {
			t.Logf("%s %s: %s", what, m.name, line)
		}
		actions[at[m.name]] = a
		return err
	})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s after %s: %v", what, took.Round(time.Millisecond), err)
	}
	return actions, took
}

// TestExistingMachinesFromNothing prepares two plain Debian machines (no Docker, only sshd,
// sudo and an admin login) over SSH, checks that labfleet's and the students' logins work
// and that a rerun does nothing, lets them form a swarm, tears them down (accounts, record
// and swarm gone, Docker kept), checks that a second teardown does nothing, and prepares
// them again.
func TestExistingMachinesFromNothing(t *testing.T) {
	requireEngine(t)
	keys, err := sshkeys.New(testSeed, "lfit-mach")
	if err != nil {
		t.Fatal(err)
	}
	// The instructor's own key for the machines' admin login: not one labfleet derives.
	instructor, err := sshkeys.New(testSeed, "lfit-mach-instructor")
	if err != nil {
		t.Fatal(err)
	}
	ms := startMachines(t, keys, instructor.Admin(), 2)

	admins := make([]*sshexec.Client, len(ms))
	for i, m := range ms {
		c, err := m.login(context.Background(), "admin", instructor.Admin())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		admins[i] = c
	}
	setup := func(m testMachine) machines.Setup {
		return machines.Setup{Node: "team1-" + m.name, StudentKey: keys.Student("team1").AuthorizedKey(plan.SSHUser + "@team1"),
			AdminKey: keys.Admin().AuthorizedKey(plan.AdminUser + "@lfit-mach")}
	}
	prepare := func(ctx context.Context, m testMachine) ([]string, error) {
		return machines.Prepare(ctx, admins[m.index], setup(m))
	}
	teardown := func(ctx context.Context, m testMachine) ([]string, error) {
		return machines.Teardown(ctx, admins[m.index], "team1-"+m.name)
	}

	actions, took := onEach(t, ms, "prepare", prepare)
	fmt.Printf("MEASURE prepared 2 machines from nothing in %s\n", took.Round(time.Millisecond))
	for i, m := range ms {
		all := strings.Join(actions[i], "\n")
		// sudo is the machine's own, and stays after the teardown.
		for _, w := range []string{"install docker.io, docker-cli, ca-certificates,", "create account student on team1-" + m.name,
			"create account labfleet on team1-" + m.name} {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no action %q in:\n%s", m.name, w, all)
			}
		}
	}

	// The machines are nodes now: labfleet's login (its own key) and the team's work, with docker.
	assertNode := func(when string) {
		t.Helper()
		for _, m := range ms {
			lf, err := m.login(context.Background(), plan.AdminUser, keys.Admin())
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			info := m.mustRun(t, lf, "docker info --format '{{.ServerVersion}} {{.Swarm.LocalNodeState}}' && sudo -n true && id -nG")
			lf.Close()
			st, err := m.login(context.Background(), plan.SSHUser, keys.Student("team1"))
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			version := m.mustRun(t, st, "docker version --format '{{.Client.Version}} {{.Server.Version}}' && sudo -n true && id -nG")
			st.Close()
			t.Logf("%s %s: labfleet: %s; student: %s", when, m.name, strings.ReplaceAll(info, "\n", " | "), strings.ReplaceAll(version, "\n", " | "))
		}
	}
	assertNode("after prepare")
	for _, m := range ms {
		t.Logf("%s: %s", m.name, m.mustRun(t, admins[m.index],
			"ps -eo pid,ppid,args | grep -E '[d]ockerd|[c]ontainerd'; ls /var/log/*docker*; grep -E 'Start-Date|End-Date' /var/log/apt/history.log; "+
				"sudo -n du -sh /var/cache/apt/archives /var/lib/apt/lists; cat /etc/labfleet/machine"))
	}

	actions, took = onEach(t, ms, "prepare again", prepare)
	for i, m := range ms {
		if len(actions[i]) != 0 {
			t.Errorf("%s: a rerun did %q", m.name, actions[i])
		}
	}
	fmt.Printf("MEASURE prepare rerun on 2 prepared machines in %s (no actions)\n", took.Round(time.Millisecond))

	// A swarm for the teardown to leave (the bootstrap's swarm convergence is tested elsewhere).
	lf1, err := ms[0].login(context.Background(), plan.AdminUser, keys.Admin())
	if err != nil {
		t.Fatal(err)
	}
	defer lf1.Close()
	lf2, err := ms[1].login(context.Background(), plan.AdminUser, keys.Admin())
	if err != nil {
		t.Fatal(err)
	}
	defer lf2.Close()
	ms[0].mustRun(t, lf1, "docker swarm init --advertise-addr "+ms[0].ip)
	token := ms[0].mustRun(t, lf1, "docker swarm join-token -q worker")
	ms[1].mustRun(t, lf2, "docker swarm join --token "+token+" "+ms[0].ip+":2377")
	t.Logf("swarm: %s", ms[0].mustRun(t, lf1, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'"))

	actions, took = onEach(t, ms, "teardown", teardown)
	fmt.Printf("MEASURE tore down 2 machines in %s\n", took.Round(time.Millisecond))
	for i, m := range ms {
		all := strings.Join(actions[i], "\n")
		for _, w := range []string{"leave the swarm on team1-" + m.name, "delete account student and its home", "delete account labfleet and its home", "remove /etc/labfleet"} {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no action %q in:\n%s", m.name, w, all)
			}
		}
		state := m.mustRun(t, admins[i], "getent passwd student labfleet; ls -d /etc/labfleet /home/student /home/labfleet /etc/sudoers.d/labfleet-* 2>&1; "+
			"sudo -n docker info --format 'swarm={{.Swarm.LocalNodeState}}'; dpkg-query -W -f='${Package} ${Version}\\n' docker.io; true")
		t.Logf("%s after teardown:\n%s", m.name, state)
		if strings.Contains(state, ":/home/") || !strings.Contains(state, "swarm=inactive") || !strings.Contains(state, "docker.io ") ||
			strings.Count(state, "No such file or directory") != 4 {
			t.Errorf("%s is not back to itself (accounts, /etc/labfleet and sudoers gone, swarm inactive, Docker kept):\n%s", m.name, state)
		}
		// labfleet's key no longer opens the machine.
		if c, err := m.login(context.Background(), plan.AdminUser, keys.Admin()); !errors.Is(err, sshexec.ErrAuthRefused) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: labfleet's login after teardown: %v", m.name, err)
		}
	}

	actions, _ = onEach(t, ms, "teardown again", teardown)
	for i, m := range ms {
		if len(actions[i]) != 0 {
			t.Errorf("%s: a second teardown did %q", m.name, actions[i])
		}
	}

	actions, took = onEach(t, ms, "prepare after teardown", prepare)
	fmt.Printf("MEASURE prepared again after teardown in %s\n", took.Round(time.Millisecond))
	for i, m := range ms {
		if all := strings.Join(actions[i], "\n"); strings.Contains(all, "install ") || !strings.Contains(all, "create account student") {
			t.Errorf("%s: prepare after teardown (Docker kept, accounts back) did:\n%s", m.name, all)
		}
	}
	assertNode("after prepare again")

	// A machine with a student account of its own: labfleet adds docker and sudo to it, and
	// its teardown leaves the account, its home and its own groups, without those two.
	own := ms[1:]
	onEach(t, own, "teardown before the machine's own student", teardown)
	m := own[0]
	m.mustRun(t, admins[m.index], "sudo -n useradd --create-home --shell /bin/bash --groups audio student && echo mine | sudo -n tee /home/student/notes.txt >/dev/null")
	actions, _ = onEach(t, own, "prepare with the machine's own student", prepare)
	if all := strings.Join(actions[0], "\n"); strings.Contains(all, "create account student") || !strings.Contains(all, "add account student to group docker, sudo") {
		t.Errorf("%s: prepare with its own student account did:\n%s", m.name, all)
	}
	actions, _ = onEach(t, own, "teardown of the machine's own student", teardown)
	if all := strings.Join(actions[0], "\n"); !strings.Contains(all, "take account student out of group docker, sudo") || strings.Contains(all, "delete account student") {
		t.Errorf("%s: teardown with its own student account did:\n%s", m.name, all)
	}
	after := m.mustRun(t, admins[m.index], "id -nG student; sudo -n cat /home/student/notes.txt")
	if groups, notes, _ := strings.Cut(after, "\n"); !strings.Contains(groups, "audio") || strings.Contains(groups, "docker") ||
		strings.Contains(groups, "sudo") || notes != "mine" {
		t.Errorf("%s: the machine's own student after teardown (want its home, audio, not docker or sudo):\n%s", m.name, after)
	}
}

// TestCohortOnExistingMachines runs a whole cohort on existing machines the way `pulumi up`
// does: 2 teams of 2 plain Debian machines (no Docker at first, reached over SSH only), the
// preflight read over SSH, the real bootstrap from nothing through the Day-2 lab, a student's
// login from the handout, a rerun that changes nothing, the teardown `pulumi destroy` runs,
// and the whole cohort bootstrapped again on the same machines.
func TestCohortOnExistingMachines(t *testing.T) {
	requireEngine(t)
	ids := labImages(t)
	instructor, err := sshkeys.New(testSeed, "lfit-mc-instructor")
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := sshkeys.New(testSeed, "lfit-mc-machines")
	if err != nil {
		t.Fatal(err)
	}
	ms := startMachines(t, hostKeys, instructor.Admin(), 4)

	cfg := testConfig("lfit-mc", 24800, "10.65.0.0/16")
	cfg.Workers, cfg.Day2Stack = 1, true
	for i, m := range ms {
		mc := plan.MachineConfig{Address: m.ip, User: "admin"}
		if i != 3 { // the last one unpinned: trusted as first seen
			mc.HostKey = strings.TrimSpace(m.hostKey.AuthorizedKey(""))
		}
		cfg.Machines = append(cfg.Machines, mc)
	}
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sshkeys.New(testSeed, p.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WithMachineKey(instructor.Admin().PrivateKeyPEM("instructor")); err != nil {
		t.Fatal(err)
	}

	facts := hostfacts.DockerHosts{}.Machines(context.Background(), p, keys.Machine())
	t.Log("preflight:\n" + p.MachinePreflightTable(facts))
	if err := p.CheckMachines(facts); err != nil {
		t.Fatal(err)
	}
	for node, f := range facts {
		if !strings.HasPrefix(f.OS, "Debian") || f.Docker != "" || f.MemoryMB == 0 || f.Kernel == nil {
			t.Errorf("%s before any work: %+v (want Debian, no Docker yet, memory and kernel read)", node, f)
		}
	}

	report := bootstrap.Options{Report: steps.Lines(func(m string) { t.Log(m) })}
	converge := func(what string) map[string]bootstrap.TeamResult {
		t.Helper()
		start := time.Now()
		res, err := bootstrap.Cohort(context.Background(), p, keys, bootstrap.LocalLabImages(ids), report)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		fmt.Printf("MEASURE %s: 2 teams x 2 existing machines in %s\n", what, time.Since(start).Round(time.Millisecond))
		return res
	}
	first := converge("bootstrapped from nothing through Day 2")
	for _, team := range p.Teams {
		r := first[team.Name]
		if r.Swarm.ClusterID == "" || r.Lab == nil || len(r.Lab.AppURLs) != 2 || !strings.Contains(strings.Join(r.Machines, "\n"), "install docker.io") {
			t.Errorf("team %s: %+v", team.Name, r)
		}
	}

	// A student of team2, with the team key and the card's address, sees the team's swarm.
	nodes := outputs.NodesFor(p, p.Teams[1], keys)
	student, err := sshexec.Dial(context.Background(), sshexec.Target{Node: nodes[0].Name, Addr: nodes[0].SSH, User: plan.SSHUser,
		Signer: keys.Student("team2").Signer(), HostKey: ms[2].hostKey.PublicKey()}, sshexec.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer student.Close()
	if out, err := student.Run(context.Background(), "docker node ls --format '{{.Status}}' | sort | uniq -c; docker service ls --format '{{.Name}} {{.Replicas}}'"); err != nil ||
		!strings.Contains(out, "2 Ready") || !strings.Contains(out, "day2_web 3/3") {
		t.Errorf("team2 seen by a student: %q %v", out, err)
	}

	again := converge("rerun with nothing to do")
	for name, r := range again {
		if len(r.Machines)+len(r.Swarm.Actions)+len(r.Lab.Actions) > 0 || r.Swarm.ClusterID != first[name].Swarm.ClusterID {
			t.Errorf("rerun of %s changed %v %v %v", name, r.Machines, r.Swarm.Actions, r.Lab.Actions)
		}
	}

	start := time.Now()
	for _, team := range p.Teams {
		var recorded []bootstrap.Machine
		for _, n := range team.Nodes {
			recorded = append(recorded, bootstrap.MachineOf(n))
		}
		removed, err := bootstrap.TeardownMachines(context.Background(), team.Name, recorded, keys.Machine(), sshexec.DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		if all := strings.Join(removed, "\n"); !strings.Contains(all, "leave the swarm on "+team.Nodes[0].Name) || !strings.Contains(all, "delete account student") {
			t.Errorf("team %s's teardown did:\n%s", team.Name, all)
		}
	}
	fmt.Printf("MEASURE tore labfleet down from 4 machines in %s\n", time.Since(start).Round(time.Millisecond))
	for _, m := range ms {
		if c, err := m.login(context.Background(), plan.SSHUser, keys.Student("team1")); !errors.Is(err, sshexec.ErrAuthRefused) && !strings.Contains(fmt.Sprint(err), "unable to authenticate") {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: a student login after the teardown: %v", m.name, err)
		}
	}

	second := converge("bootstrapped again after the teardown")
	for name, r := range second {
		if r.Swarm.ClusterID == "" || r.Swarm.ClusterID == first[name].Swarm.ClusterID || strings.Contains(strings.Join(r.Machines, "\n"), "install ") {
			t.Errorf("team %s after teardown and bootstrap: cluster %s (was %s), machines %v", name, r.Swarm.ClusterID, first[name].Swarm.ClusterID, r.Machines)
		}
	}
}
