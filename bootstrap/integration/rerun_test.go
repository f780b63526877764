package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/bootstrap/swarm"
)

// logBook collects everything a bootstrap logs, to check later that no secret is in it.
type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBook) log(t *testing.T) steps.Lines {
	return func(msg string) {
		l.mu.Lock()
		l.lines = append(l.lines, msg)
		l.mu.Unlock()
		t.Log(msg)
	}
}

func (l *logBook) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// assertNoSecrets fails if any join token or private key of the cohort is in the log.
func (l *logBook) assertNoSecrets(t *testing.T, c *cohort, results ...map[string]bootstrap.TeamResult) {
	t.Helper()
	l.mu.Lock()
	all := strings.Join(l.lines, "\n")
	l.mu.Unlock()
	var secrets []string
	for _, res := range results {
		for _, r := range res {
			secrets = append(secrets, r.Swarm.WorkerToken, r.Swarm.ManagerToken)
		}
	}
	for _, team := range c.plan.Teams {
		secrets = append(secrets, keyBody(c.keys.Student(team.Name).PrivateKeyPEM("")))
		for _, n := range team.Nodes {
			secrets = append(secrets, keyBody(c.keys.Host(n.Name).PrivateKeyPEM("")))
		}
	}
	found := 0
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			found++
		}
	}
	if found > 0 || strings.Contains(all, "PRIVATE KEY") || strings.Contains(all, "SWMTKN-") {
		t.Errorf("%d secrets found in %d log lines", found, len(l.lines))
	}
	t.Logf("MEASURE secrets found in %d log lines of the bootstrap: %d (checked %d tokens and keys)", len(l.lines), found, len(secrets))
}

// keyBody is a line from the middle of a PEM key: enough to recognise it anywhere.
func keyBody(pem string) string {
	lines := strings.Split(strings.TrimSpace(pem), "\n")
	return lines[len(lines)/2]
}

// restartAll restarts every node container of the cohort at once, as a host reboot does.
func restartAll(t *testing.T, c *cohort) {
	t.Helper()
	var names []string
	for _, team := range c.plan.Teams {
		for _, n := range team.Nodes {
			names = append(names, n.ContainerName)
		}
	}
	start := time.Now()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { _, errs[i] = docker(context.Background(), "restart", name) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted %d node containers at once in %s", len(names), time.Since(start).Round(100*time.Millisecond))
}

func actionsOf(r bootstrap.TeamResult) []string {
	a := slices.Clone(r.Swarm.Actions)
	if r.Lab != nil {
		a = append(a, r.Lab.Actions...)
	}
	return a
}

func hasActionPrefix(actions []string, prefix string) bool {
	return slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, prefix) })
}

// A host reboot restarts every node at once while students have the Day-2 stack and their
// own services running, and have changed the stack. The instructor's next run must keep
// every swarm, put back only what labfleet owns, and leave the students' services alone.
func TestRerunAfterAHostRebootKeepsEverySwarmAndTheStudentsWork(t *testing.T) {
	requireDocker(t)
	ids := labImages(t)
	cfg := testConfig("lfit-r", 23000, "172.21.0.0/16")
	cfg.NodeMemory, cfg.Day2Stack = "1g", true
	c := newCohort(t, cfg)
	var logs logBook
	opts := bootstrap.Options{Report: logs.log(t)}
	first, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), opts)
	if err != nil {
		t.Fatal(err)
	}

	// team1: a student's own service; team2: a student scales the reference stack to 0.
	c.run("team1-m1", "docker service create --detach --name student-web --replicas 2 improved-app:latest >/dev/null")
	waitFor(t, 2*time.Minute, func() bool {
		out, _ := c.ssh("team1-m1").Run(context.Background(), "docker service ls --filter name=student-web --format '{{.Replicas}}'")
		return strings.TrimSpace(out) == "2/2"
	})
	c.run("team2-m1", "docker service scale --detach day2_web=0 >/dev/null")

	restartAll(t, c)
	start := time.Now()
	again, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE rerun right after every node restarted: %s", time.Since(start).Round(100*time.Millisecond))
	for _, team := range c.plan.Teams {
		a, b := first[team.Name], again[team.Name]
		if b.Swarm.ClusterID != a.Swarm.ClusterID || hasActionPrefix(b.Swarm.Actions, "init swarm") || hasActionPrefix(b.Swarm.Actions, team.Name+"-") {
			t.Errorf("team %s: cluster %s -> %s, actions %v", team.Name, a.Swarm.ClusterID, b.Swarm.ClusterID, b.Swarm.Actions)
		}
		assertSwarm(t, c, team, b.Swarm)
		if out := c.run(team.Name+"-m1", "docker stack services --format '{{.Name}} {{.Replicas}}' day2"); !strings.Contains(out, "day2_web 3/3") {
			t.Errorf("team %s: day2 after the rerun:\n%s", team.Name, out)
		}
	}
	if !hasActionPrefix(again["team2"].Lab.Actions, "deploy stack day2") || !strings.Contains(strings.Join(again["team2"].Lab.Actions, ";"), "day2_web was scaled to 0, restored to 3") {
		t.Errorf("team2's scaled stack not restored and reported: %v", again["team2"].Lab.Actions)
	}
	if out := c.run("team1-m1", "docker service ls --filter name=student-web --format '{{.Name}} {{.Replicas}}'"); !strings.HasPrefix(strings.TrimSpace(out), "student-web ") {
		t.Errorf("the student's own service is gone: %q", out)
	}

	t.Run("a removed reference stack is put back, the student's service stays", func(t *testing.T) {
		c.run("team1-m1", "docker service rm day2_web >/dev/null")
		res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), opts)
		if err != nil {
			t.Fatal(err)
		}
		if acts := strings.Join(res["team1"].Lab.Actions, ";"); !strings.Contains(acts, "day2_web was removed") {
			t.Errorf("actions %v", res["team1"].Lab.Actions)
		}
		if len(actionsOf(res["team2"])) != 0 {
			t.Errorf("team2 touched: %v", actionsOf(res["team2"]))
		}
		if out := c.run("team1-m1", "docker service ls --format '{{.Name}}' | sort | tr '\\n' ' '"); strings.TrimSpace(out) != "day2_web student-web" && strings.TrimSpace(out) != "day2_edge day2_web student-web" {
			t.Errorf("services: %q", out)
		}
		logs.assertNoSecrets(t, c, first, again, res)
	})
}

// Autolock (a student's `docker swarm update --autolock`) leaves a restarted manager locked.
// The run reports that team with the unlock hint, wipes nothing, and the other team is fine;
// after the unlock the same swarm carries on. Also here: an interrupted bootstrap, and the
// instructor's deliberate reset.
func TestLockedSwarmInterruptedRunAndDeliberateReset(t *testing.T) {
	requireDocker(t)
	cfg := testConfig("lfit-l", 23200, "172.20.0.0/16")
	cfg.Workers = 1
	c := newCohort(t, cfg)
	var logs logBook

	// Interrupted: cancel the first bootstrap while it runs, as Ctrl-C on pulumi up does, at
	// a point the run always reaches with work still ahead: a team starting its swarm.
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	var cancelled time.Time
	report := logs.log(t)
	interrupt := steps.Lines(func(msg string) {
		report(msg)
		if strings.Contains(msg, "choose or init the manager ...") {
			once.Do(func() { cancelled = time.Now(); cancel() })
		}
	})
	_, err := bootstrap.Cohort(ctx, c.plan, c.keys, nil, bootstrap.Options{Report: interrupt})
	stopped := time.Since(cancelled)
	if cancelled.IsZero() || !errors.Is(err, context.Canceled) {
		t.Fatalf("the bootstrap was not interrupted while forming a swarm: %v", err)
	}
	if stopped > 10*time.Second {
		t.Errorf("the cancelled bootstrap returned %s after the cancel", stopped)
	}
	t.Logf("MEASURE a bootstrap cancelled while forming a swarm returned %s after the cancel", stopped.Round(100*time.Millisecond))
	first, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, bootstrap.Options{Report: logs.log(t)})
	if err != nil {
		t.Fatalf("rerun after the interruption: %v", err)
	}
	for _, team := range c.plan.Teams {
		assertSwarm(t, c, team, first[team.Name].Swarm)
	}

	key := strings.TrimSpace(c.run("team1-m1", "docker swarm update --autolock=true >/dev/null && docker swarm unlock-key -q"))
	if _, err := docker(context.Background(), "restart", c.plan.Teams[0].Nodes[0].ContainerName); err != nil {
		t.Fatal(err)
	}
	opts := bootstrap.Options{Report: logs.log(t), Swarm: swarm.Timing{DockerReady: 90 * time.Second, NodesReady: 60 * time.Second, Settle: 10 * time.Second, Poll: time.Second}}
	res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, opts)
	if err == nil {
		t.Fatal("a locked swarm passed")
	}
	logs.add(err.Error())
	for _, frag := range []string{`team "team1"`, "team1-m1 locked", "docker swarm unlock", "nothing was changed"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q: %v", frag, err)
		}
	}
	if strings.Contains(err.Error(), "team2") {
		t.Errorf("team2 named in the error: %v", err)
	}
	if r, ok := res["team2"]; !ok || r.Swarm.ClusterID != first["team2"].Swarm.ClusterID || len(r.Swarm.Actions) != 0 {
		t.Errorf("team2 = %+v", r)
	}
	if state := c.run("team1-w1", "docker info --format '{{.Swarm.LocalNodeState}}'"); strings.TrimSpace(state) != "active" {
		t.Errorf("team1's worker left its swarm: %s", state)
	}

	c.run("team1-m1", fmt.Sprintf("printf '%%s\\n' %s | docker swarm unlock", key))
	unlocked, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, bootstrap.Options{Report: logs.log(t)})
	if err != nil {
		t.Fatal(err)
	}
	if r := unlocked["team1"]; r.Swarm.ClusterID != first["team1"].Swarm.ClusterID || len(r.Swarm.Actions) != 0 {
		t.Errorf("after unlock: cluster %s (was %s), actions %v", r.Swarm.ClusterID, first["team1"].Swarm.ClusterID, r.Swarm.Actions)
	}

	t.Run("a deliberate reset happens once, for the named team", func(t *testing.T) {
		p := *c.plan
		p.ResetSwarms = map[string]string{"team2": first["team2"].Swarm.ClusterID}
		reset, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, bootstrap.Options{Report: logs.log(t)})
		if err != nil {
			t.Fatal(err)
		}
		r2 := reset["team2"].Swarm
		if r2.ClusterID == first["team2"].Swarm.ClusterID || !hasActionPrefix(r2.Actions, "reset the swarm "+first["team2"].Swarm.ClusterID) {
			t.Errorf("team2: cluster %s, actions %v", r2.ClusterID, r2.Actions)
		}
		assertSwarm(t, c, c.plan.Teams[1], r2)
		if len(reset["team1"].Swarm.Actions) != 0 {
			t.Errorf("team1 touched: %v", reset["team1"].Swarm.Actions)
		}
		again, err := bootstrap.Cohort(context.Background(), &p, c.keys, nil, bootstrap.Options{Report: logs.log(t)})
		if err != nil {
			t.Fatal(err)
		}
		if a := again["team2"].Swarm; a.ClusterID != r2.ClusterID || len(a.Actions) != 0 {
			t.Errorf("the reset happened again: cluster %s, actions %v", a.ClusterID, a.Actions)
		}
		logs.assertNoSecrets(t, c, first, res, unlocked, reset, again)
	})

	t.Run("students cannot lock labfleet out; a node that refuses its key is named at once", func(t *testing.T) {
		w1 := c.plan.Teams[0].Nodes[1]
		c.run(w1.Name, "sudo mv /etc/labfleet/admin_authorized_keys /tmp/admin_keys")
		start := time.Now()
		_, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, bootstrap.Options{})
		if err == nil || !strings.Contains(err.Error(), "node "+w1.Name) || !strings.Contains(err.Error(), `user "labfleet"`) ||
			!strings.Contains(err.Error(), c.keys.Admin().Fingerprint()) || time.Since(start) > 30*time.Second {
			t.Errorf("after %s: %v", time.Since(start).Round(time.Second), err)
		}
		if _, err := docker(context.Background(), "exec", w1.ContainerName, "mv", "/tmp/admin_keys", "/etc/labfleet/admin_authorized_keys"); err != nil {
			t.Fatal(err)
		}
		// A student who empties the team's key file and their ~/.ssh locks only themselves out.
		c.run(w1.Name, "rm -rf ~/.ssh && sudo truncate -s0 /etc/labfleet/authorized_keys")
		res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, nil, bootstrap.Options{})
		if err != nil || len(res["team1"].Swarm.Actions) != 0 {
			t.Errorf("labfleet was locked out: %v %v", err, res["team1"].Swarm.Actions)
		}
	})
}
