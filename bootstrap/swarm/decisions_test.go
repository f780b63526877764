package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
)

func state(local string, control bool, cluster string) string {
	s := fmt.Sprintf(`{"NodeID":"id-%s","LocalNodeState":%q,"ControlAvailable":%v`, local, local, control)
	if local == "inactive" {
		s = `{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false`
	}
	if cluster != "" && control {
		s += fmt.Sprintf(`,"Cluster":{"ID":%q}`, cluster)
	}
	return s + "}"
}

const cluster = "abcdefghijklmnopqrstuvwxy"

type fakeTeam struct {
	c     *converger
	nodes map[string]*stepstest.Node
}

// team builds a converger over nodes named "<role letter><k>" whose first docker info
// answers are given, as waitForDocker would have left them.
func team(t *testing.T, reset string, nodes map[string][]string) fakeTeam {
	t.Helper()
	ft := fakeTeam{nodes: map[string]*stepstest.Node{}}
	var members []Member
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		role := plan.Worker
		if strings.HasPrefix(name, "m") {
			role = plan.Manager
		}
		f := stepstest.New(t).On("docker info", nodes[name]...)
		ft.nodes[name] = f
		members = append(members, Member{Name: name, Role: role, IP: "10.0.0." + name[1:], Run: f})
	}
	ft.c = &converger{team: "t1", members: members, reset: reset, state: map[string]localState{},
		timing: Timing{DockerReady: time.Second, NodesReady: time.Second, Settle: 200 * time.Millisecond, Poll: 10 * time.Millisecond}}
	ft.c.result.NodeIDs = map[string]string{}
	if err := ft.c.waitForDocker(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ft
}

// wipes matches, anywhere in a command line (behind sudo, sh -c or a pipe), what throws
// away a swarm or what its nodes hold: leaving it, initialising another (forced or not),
// the Engine API's equivalents, and removing Docker's data.
var wipes = regexp.MustCompile(`docker\s+swarm\s+(leave|init)\b|--force-new-cluster|/swarm/(leave|init)\b|` +
	`docker\s+(system|volume)\s+prune\b|docker\s+volume\s+rm\b|rm\s+(-\w+\s+)*/var/lib/docker\b`)

// wiped reports whether any node ran a wiping command.
func (ft fakeTeam) wiped() bool { return len(ft.wipes()) > 0 }

func (ft fakeTeam) wipes() []string {
	var all []string
	for _, name := range slices.Sorted(maps.Keys(ft.nodes)) {
		for _, cmd := range ft.nodes[name].Matching(wipes) {
			all = append(all, name+": "+cmd)
		}
	}
	return all
}

// The "never wiped" rules are only as good as wiped: a wipe behind sudo, in a script or
// through the Engine API counts, and reading the swarm's state does not.
func TestWipedSeesAWipeAnywhereInACommand(t *testing.T) {
	for _, cmd := range []string{
		"docker swarm leave --force",
		"sudo docker swarm leave --force",
		"sh -c 'docker swarm leave'",
		"sudo -n docker swarm init --force-new-cluster --advertise-addr 10.0.0.1",
		"docker swarm init --advertise-addr 10.0.0.1",
		"curl -sS --unix-socket /var/run/docker.sock -X POST http://localhost/swarm/leave?force=1",
		"curl -sS --unix-socket /var/run/docker.sock -X POST http://localhost/swarm/init",
		"sudo docker system prune -af --volumes",
		"docker volume prune -f",
		"sudo rm -rf /var/lib/docker",
		"systemctl stop docker && rm -r -f /var/lib/docker/swarm",
	} {
		n := stepstest.New(t).On(cmd)
		if _, err := n.Run(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		if !(fakeTeam{nodes: map[string]*stepstest.Node{"m1": n}}).wiped() {
			t.Errorf("%q is not seen as a wipe", cmd)
		}
	}
	for _, cmd := range []string{
		"docker info --format '{{json .Swarm}}' && { cat /etc/labfleet/swarm-cluster-id 2>/dev/null || true; }",
		"docker swarm join-token -q worker",
		"docker node ls -q | xargs docker node inspect",
		"docker node rm --force old-w2",
		"sudo -n mkdir -p /etc/labfleet && (umask 077 && sudo -n tee /etc/labfleet/swarm-cluster-id.new >/dev/null) && sudo -n chmod 0644 /etc/labfleet/swarm-cluster-id.new && sudo -n mv /etc/labfleet/swarm-cluster-id.new /etc/labfleet/swarm-cluster-id",
	} {
		n := stepstest.New(t).On(cmd)
		if _, err := n.Run(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		if (fakeTeam{nodes: map[string]*stepstest.Node{"m1": n}}).wiped() {
			t.Errorf("%q is taken for a wipe", cmd)
		}
	}
}

func TestLeaderIsAManagerThatControlsTheSwarm(t *testing.T) {
	ft := team(t, "", map[string][]string{
		"m1": {state("active", false, "")}, // a manager without control (a follower without quorum yet)
		"m2": {state("active", true, cluster)},
		"w3": {state("active", false, "")},
	})
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ft.c.result.ManagerAddr != "10.0.0.2:2377" || ft.wiped() {
		t.Errorf("leader %s, wiped %v", ft.c.result.ManagerAddr, ft.wiped())
	}
}

func TestANewTeamGetsASwarmOnItsFirstManager(t *testing.T) {
	ft := team(t, "", map[string][]string{"m1": {state("inactive", false, "")}, "m2": {state("inactive", false, "")}, "w3": {state("inactive", false, "")}})
	ft.nodes["m1"].On("docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377")
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The only wipe-like command is the init of the new swarm, on m1 alone.
	if got := ft.wipes(); !slices.Equal(got, []string{"m1: docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377"}) || ft.c.result.ManagerAddr != "10.0.0.1:2377" {
		t.Errorf("ran %q, leader %s", got, ft.c.result.ManagerAddr)
	}
	if got := ft.c.List(); !slices.Equal(got, []string{"init swarm on m1"}) {
		t.Errorf("actions %q", got)
	}
}

// Every manager replaced (fresh volumes) while workers still hold the old swarm: no manager
// holds swarm data, so a new swarm is the only way; the workers move to it later.
func TestManagersWithoutSwarmDataStartANewSwarmEvenIfWorkersHoldOne(t *testing.T) {
	ft := team(t, "", map[string][]string{"m1": {state("inactive", false, "")}, "w2": {state("active", false, "")}})
	ft.nodes["m1"].On("docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377")
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The workers leave the old swarm later (joinMembers), not here.
	if got := ft.wipes(); !slices.Equal(got, []string{"m1: docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377"}) {
		t.Errorf("ran %q, want only the init on m1", got)
	}
}

// After a host reboot a manager reports pending, or active without control during the
// election, before it leads again. Waiting is right; re-initialising would wipe the team.
func TestAManagerThatIsSettlingIsWaitedFor(t *testing.T) {
	for _, settling := range [][]string{
		{state("pending", false, ""), state("pending", false, ""), state("active", true, cluster)},
		{state("active", false, ""), state("active", false, ""), state("active", true, cluster)},
		{state("error", false, ""), state("active", true, cluster)},
	} {
		ft := team(t, "", map[string][]string{"m1": settling, "w2": {state("active", false, "")}})
		ft.c.timing.Settle = time.Minute // a bound that is never reached: m1 settles within three answers
		if err := ft.c.ensureLeader(context.Background()); err != nil {
			t.Fatalf("%v: %v", settling[0], err)
		}
		if ft.wiped() || ft.c.result.ManagerAddr != "10.0.0.1:2377" {
			t.Errorf("%s: wiped %v, leader %q", settling[0], ft.wiped(), ft.c.result.ManagerAddr)
		}
	}
}

func TestALockedSwarmIsReportedWithTheUnlockHintAndNotWiped(t *testing.T) {
	locked := `{"NodeID":"","LocalNodeState":"locked","ControlAvailable":false}` + "\n" + cluster
	ft := team(t, "", map[string][]string{"m1": {locked}, "w2": {state("active", false, "")}})
	ft.c.timing.Settle = time.Minute
	start := time.Now()
	err := ft.c.ensureLeader(context.Background())
	if err == nil {
		t.Fatal("a locked swarm passed")
	}
	// A locked swarm does not unlock itself: no waiting out the settle time.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("waited %s for a locked swarm", took)
	}
	for _, frag := range []string{"m1 locked", "nothing was changed", "on m1 run `docker swarm unlock`", "labfleet:resetSwarms.t1' " + cluster} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q: %v", frag, err)
		}
	}
	if ft.wiped() {
		t.Error("a locked swarm was wiped")
	}
}

func TestManagersThatNeverSettleFailTheTeamWithWhatWasSeen(t *testing.T) {
	ft := team(t, "", map[string][]string{
		"m1": {`{"NodeID":"x","LocalNodeState":"error","ControlAvailable":false,"Error":"rpc error: manager stopped"}`},
		"m2": {state("pending", false, "")},
	})
	err := ft.c.ensureLeader(context.Background())
	if err == nil || ft.wiped() {
		t.Fatalf("err %v, wiped %v", err, ft.wiped())
	}
	for _, frag := range []string{"m1 error (rpc error: manager stopped)", "m2 pending", "--force-new-cluster", "run pulumi up again in a minute"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q: %v", frag, err)
		}
	}
}

func TestAResetHappensOnlyForTheNamedSwarm(t *testing.T) {
	healthy := map[string][]string{"m1": {state("active", true, cluster)}, "w2": {state("active", false, "")}}
	ft := team(t, "zzzzzzzzzzzzzzzzzzzzzzzzz", healthy)
	if err := ft.c.ensureLeader(context.Background()); err != nil || ft.wiped() {
		t.Fatalf("another swarm's reset touched this one: %v, wiped %v", err, ft.wiped())
	}

	ft = team(t, cluster, healthy)
	ft.nodes["m1"].On("docker swarm leave --force").On("docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377")
	ft.nodes["w2"].On("docker swarm leave --force")
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !ft.nodes["m1"].Ran("docker swarm leave --force") || !ft.nodes["w2"].Ran("docker swarm leave --force") || !ft.nodes["m1"].Ran("docker swarm init") {
		t.Errorf("m1 %v w2 %v", ft.nodes["m1"].Commands(), ft.nodes["w2"].Commands())
	}
	if !slices.ContainsFunc(ft.c.List(), func(a string) bool { return strings.HasPrefix(a, "reset the swarm "+cluster) }) {
		t.Errorf("actions %v", ft.c.List())
	}

	// A locked swarm is named by the cluster ID labfleet recorded on its manager.
	locked := `{"NodeID":"","LocalNodeState":"locked","ControlAvailable":false}` + "\n" + cluster
	ft = team(t, cluster, map[string][]string{"m1": {locked}})
	ft.nodes["m1"].On("docker swarm leave --force").On("docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377")
	if err := ft.c.ensureLeader(context.Background()); err != nil || !ft.nodes["m1"].Ran("docker swarm init") {
		t.Errorf("locked swarm not reset: %v %v", err, ft.nodes["m1"].Commands())
	}
}

func TestJoinTokensTravelOnStdinNeverOnACommandLine(t *testing.T) {
	ft := team(t, "", map[string][]string{"m1": {state("active", true, cluster)}, "w2": {state("inactive", false, "")}})
	ft.c.result.ManagerAddr = "10.0.0.1:2377"
	ft.c.result.WorkerToken = "SWMTKN-1-secretworker"
	ft.nodes["m1"].On("docker node ls", `[{"ID":"id-active","Spec":{"Role":"manager"}}]`)
	ft.nodes["w2"].On("curl", "\n200")
	if err := ft.c.joinMembers(context.Background()); err != nil {
		t.Fatal(err)
	}
	w2 := ft.nodes["w2"]
	for _, node := range ft.nodes {
		for _, cmd := range node.Commands() {
			if strings.Contains(cmd, "SWMTKN") {
				t.Errorf("a token on a command line: %s", cmd)
			}
		}
	}
	if in := w2.Stdin(); len(in) != 1 || !strings.Contains(in[0], `"JoinToken":"SWMTKN-1-secretworker"`) || !strings.Contains(in[0], `"RemoteAddrs":["10.0.0.1:2377"]`) {
		t.Errorf("join request %v", in)
	}
}

func TestEngineAPIErrorsCarryTheEngineMessage(t *testing.T) {
	m := Member{Name: "t1-w2"}
	if err := apiError(m, "swarm join", "\n200"); err != nil {
		t.Errorf("200: %v", err)
	}
	err := apiError(m, "swarm join", `{"message":"Timeout was reached before node joined. The attempt to join the swarm will continue in the background."}`+"\n500")
	if err == nil || err.Error() != "node t1-w2: swarm join: HTTP 500: Timeout was reached before node joined. The attempt to join the swarm will continue in the background." {
		t.Errorf("err = %v", err)
	}
}

func TestStaleEntriesAreRemovedAndManagersDemotedFirst(t *testing.T) {
	ft := team(t, "", map[string][]string{"m1": {state("active", true, cluster)}, "w2": {state("active", false, "")}})
	ft.c.result.ManagerAddr = "10.0.0.1:2377"
	ft.c.result.NodeIDs = map[string]string{"m1": "id-m1", "w2": "id-w2"}
	ft.nodes["m1"].On("docker node ls", `[{"ID":"id-m1","Spec":{"Role":"manager"}},{"ID":"id-w2","Spec":{"Role":"worker"}},
		{"ID":"old-m1","Spec":{"Role":"manager"},"Description":{"Hostname":"m1"},"Status":{"State":"down"}},
		{"ID":"old-w2","Spec":{"Role":"worker"},"Description":{"Hostname":"w2"},"Status":{"State":"down"}}]`).
		On("docker node demote old-m1").
		On("docker node rm --force old-m1").
		On("docker node rm --force old-w2")
	if err := ft.c.removeStale(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ft.nodes["m1"].Commands() {
		if strings.HasPrefix(c, "docker node demote") || strings.HasPrefix(c, "docker node rm") {
			got = append(got, c)
		}
	}
	want := []string{"docker node demote old-m1", "docker node rm --force old-m1", "docker node rm --force old-w2"}
	if !slices.Equal(got, want) {
		t.Errorf("commands %v, want %v", got, want)
	}
}

func TestARoleChangeIsRetriedWhileRaftCatchesUp(t *testing.T) {
	ft := team(t, "", map[string][]string{"m1": {state("active", true, cluster)}})
	ft.c.result.ManagerAddr = "10.0.0.1:2377"
	m1 := ft.nodes["m1"].Fail("docker node demote", errors.New("can't find manager in raft memberlist"))
	err := ft.c.onLeader(context.Background(), "docker node demote x")
	if err == nil || !strings.Contains(err.Error(), "raft") || m1.Count("docker node demote") < 2 {
		t.Errorf("err %v after %d tries", err, m1.Count("docker node demote"))
	}
	m1.Fail("docker node demote", errors.New("node x not found"))
	before := m1.Count("docker node demote")
	if err := ft.c.onLeader(context.Background(), "docker node demote x"); err == nil || m1.Count("docker node demote") != before+1 {
		t.Errorf("a non-raft error was retried: %v", err)
	}
}

// A student promoted w2 and demoted m1: the swarm is healthy, led by a node the plan makes a
// worker. It is used to put the roles back (never a wait, then quorum advice that wipes).
func TestRolesAStudentSwappedArePutBackThroughAnyManager(t *testing.T) {
	ft := team(t, "", map[string][]string{
		"m1": {`{"NodeID":"id-m1","LocalNodeState":"active","ControlAvailable":false}`}, // demoted by a student
		// promoted by a student; demoted again by the run, it leads until Raft lets it go
		"w2": {state("active", true, cluster), state("active", true, cluster), state("active", false, "")},
	})
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ft.c.result.ManagerAddr != "10.0.0.2:2377" {
		t.Fatalf("leader %s, want w2, the node that controls the swarm", ft.c.result.ManagerAddr)
	}
	ft.nodes["w2"].On("docker node ls", `[{"ID":"id-active","Spec":{"Role":"manager"}},{"ID":"id-m1","Spec":{"Role":"worker"}}]`).
		On("docker node inspect --format '{{.ManagerStatus.Reachability}}' id-m1", "\n", "reachable\n").
		On("docker node promote id-m1").
		On("docker node demote id-w2")
	ft.c.state["m1"] = localState{NodeID: "id-m1", LocalNodeState: "active"}
	ft.c.state["w2"] = localState{NodeID: "id-w2", LocalNodeState: "active", ControlAvailable: true}
	if err := ft.c.joinMembers(context.Background()); err != nil {
		t.Fatal(err)
	}
	w2 := ft.nodes["w2"]
	cmds := w2.Commands()
	promote, demote := slices.Index(cmds, "docker node promote id-m1"), slices.Index(cmds, "docker node demote id-w2")
	reachable := slices.Index(cmds, "docker node inspect --format '{{.ManagerStatus.Reachability}}' id-m1")
	if promote < 0 || reachable < promote || demote < reachable || w2.Count("docker node inspect --format") != 2 {
		t.Errorf("w2 ran %q: want m1 promoted, waited for until reachable, then w2 demoted", cmds)
	}
	if ft.c.result.ManagerAddr != "10.0.0.1:2377" || ft.wiped() {
		t.Errorf("after the hand-over the leader is %s (want m1), wiped %v", ft.c.result.ManagerAddr, ft.wiped())
	}
	if got := strings.Join(ft.c.List(), "; "); got != "promote m1; demote w2" {
		t.Errorf("actions %q", got)
	}
	if n := w2.Count("docker info"); n != 3 {
		t.Errorf("w2's state read %d times: want the run to wait until it no longer leads", n)
	}
}

// A student promoted w2, then m1 was replaced: w2 leads, m1 joins in this run as a manager,
// and the hand-over waits for m1 by the ID it got when it joined (none when the run began).
func TestTheHandOverWaitsForAManagerThatJoinedInThisRun(t *testing.T) {
	ft := team(t, "", map[string][]string{
		"m1": {state("inactive", false, ""), `{"NodeID":"id-new","LocalNodeState":"active","ControlAvailable":true}`},
		"w2": {state("active", true, cluster), state("active", false, "")},
	})
	if err := ft.c.ensureLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	ft.c.result.ManagerToken = "SWMTKN-manager"
	ft.nodes["m1"].On("curl", "\n200")
	ft.nodes["w2"].On("docker node ls", `[{"ID":"id-active","Spec":{"Role":"manager"}}]`).
		On("docker node inspect --format '{{.ManagerStatus.Reachability}}' id-new", "reachable\n").
		On("docker node demote id-active")
	if err := ft.c.joinMembers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ft.c.List(), "; "); got != "join m1 as manager; demote w2" {
		t.Errorf("actions %q", got)
	}
	if ft.c.result.ManagerAddr != "10.0.0.1:2377" || ft.wiped() {
		t.Errorf("after the hand-over the leader is %s (want m1), wiped %v", ft.c.result.ManagerAddr, ft.wiped())
	}
}

// The swarm's spec says "worker" as soon as a demotion is asked for; the node leaves Raft
// later, and keeps leading until then. A run is done only when the membership is the plan.
func TestNodesAreReadyOnlyWhenTheirRaftMembershipIsThePlan(t *testing.T) {
	for _, tc := range []struct {
		name, w2Info, nodes string
		pending             string
	}{
		{"as planned", state("active", false, ""),
			`[{"ID":"id-m1","Spec":{"Role":"manager"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}},
			  {"ID":"id-w2","Spec":{"Role":"worker"},"Status":{"State":"ready"}}]`, ""},
		{"a demoted worker still in Raft", `{"NodeID":"id-w2","LocalNodeState":"active","ControlAvailable":true}`,
			`[{"ID":"id-m1","Spec":{"Role":"manager"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}},
			  {"ID":"id-w2","Spec":{"Role":"worker"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}}]`,
			"node w2: demoted, still leaving the managers"},
		{"a demoted worker out of Raft whose manager has not stopped yet", `{"NodeID":"id-w2","LocalNodeState":"active","ControlAvailable":true}`,
			`[{"ID":"id-m1","Spec":{"Role":"manager"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}},
			  {"ID":"id-w2","Spec":{"Role":"worker"},"Status":{"State":"ready"}}]`,
			"node w2: demoted, still leaving the managers"},
		{"a demoted worker still listed in Raft", state("active", false, ""),
			`[{"ID":"id-m1","Spec":{"Role":"manager"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}},
			  {"ID":"id-w2","Spec":{"Role":"worker"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"reachable"}}]`,
			"node w2: demoted, still leaving the managers"},
		{"a promoted manager not yet reachable", state("active", false, ""),
			`[{"ID":"id-m1","Spec":{"Role":"manager"},"Status":{"State":"ready"},"ManagerStatus":{"Reachability":"unknown"}},
			  {"ID":"id-w2","Spec":{"Role":"worker"},"Status":{"State":"ready"}}]`,
			"node m1: promoted, not a reachable manager yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := team(t, "", map[string][]string{
				"m1": {`{"NodeID":"id-m1","LocalNodeState":"active","ControlAvailable":true}`},
				"w2": {strings.Replace(tc.w2Info, "id-active", "id-w2", 1)},
			})
			ft.c.result.ManagerAddr = "10.0.0.1:2377"
			ft.nodes["m1"].On("docker node ls", tc.nodes)
			pending, err := ft.c.notReady(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(pending, "; "); got != tc.pending {
				t.Errorf("pending %q, want %q", got, tc.pending)
			}
		})
	}
}

// A student demoted m1 and promoted w2; m1 still controlled the swarm when it was chosen, and
// its demotion goes through while the run reads the tokens: w2 leads from there (before, the
// team failed after a minute of "active without control").
func TestALeaderThatLosesControlHandsTheRunToTheOneThatHasIt(t *testing.T) {
	ft := team(t, "", map[string][]string{
		"m1": {state("active", true, cluster), state("active", false, "")},
		"w2": {state("active", false, ""), state("active", true, cluster)},
	})
	if err := ft.c.ensureLeader(context.Background()); err != nil || ft.c.result.ManagerAddr != "10.0.0.1:2377" {
		t.Fatalf("leader %s, err %v: want m1, which controls the swarm when the run starts", ft.c.result.ManagerAddr, err)
	}
	ft.nodes["w2"].On("docker swarm join-token -q worker", "SWMTKN-w\n").On("docker swarm join-token -q manager", "SWMTKN-m\n")
	if err := ft.c.readTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ft.c.result.ManagerAddr != "10.0.0.2:2377" || ft.c.result.ClusterID != cluster || ft.c.result.WorkerToken != "SWMTKN-w" || ft.wiped() {
		t.Errorf("leader %s, cluster %s, token %q, wiped %v", ft.c.result.ManagerAddr, ft.c.result.ClusterID, ft.c.result.WorkerToken, ft.wiped())
	}
}
