package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/model/plan"
)

// snapshot is every Docker object of a cohort, with what would change if it were touched:
// container IDs, start times and published ports; network and volume IDs.
func snapshot(t *testing.T, cohort string) string {
	t.Helper()
	filter := "label=labfleet.cohort=" + cohort
	var b strings.Builder
	for _, args := range [][]string{
		{"ps", "-a", "--filter", filter, "--format", "{{.ID}} {{.Names}} {{.Ports}}"},
		{"network", "ls", "--filter", filter, "--format", "{{.ID}} {{.Name}}"},
		{"volume", "ls", "--filter", filter, "--format", "{{.Name}}"},
	} {
		out, err := docker(context.Background(), args...)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(out)
	}
	ids, _ := docker(context.Background(), "ps", "-aq", "--filter", filter)
	if strings.TrimSpace(ids) != "" {
		started, err := docker(context.Background(), append([]string{"inspect", "--format", "{{.Name}} {{.State.StartedAt}}"}, strings.Fields(ids)...)...)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(started)
	}
	return b.String()
}

// Two cohorts on one engine: the second cannot be planned onto the first's pool or ports
// (the host check names the cohort that holds them), and bringing one up, re-running and
// removing it leaves every container, network, volume and port of the other untouched.
func TestTwoCohortsOnOneHost(t *testing.T) {
	requireDocker(t)
	cfgB := testConfig("lfit-cb", 23400, "172.19.0.0/16")
	cfgB.Teams, cfgB.Workers = 1, 1
	b := newCohort(t, cfgB)
	before, err := bootstrap.Cohort(context.Background(), b.plan, b.keys, nil, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snapB := snapshot(t, "lfit-cb")

	facts, err := hostfacts.Local(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clash := testConfig("lfit-ca", 23400, "172.19.0.0/16")
	clash.Teams, clash.Workers = 1, 1
	p, err := plan.Build(clash)
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckHost(facts)
	for _, frag := range []string{"labfleet:addressPool", "labfleet:sshPortBase", `cohort "lfit-cb"`} {
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("the same pool and ports as another cohort: error lacks %q: %v", frag, err)
		}
	}

	cfgA := testConfig("lfit-ca", 23500, "172.18.0.0/16")
	cfgA.Teams, cfgA.Workers = 1, 1
	pa, _ := plan.Build(cfgA)
	if err := pa.CheckHost(facts); err != nil {
		t.Fatalf("a cohort that fits was refused: %v", err)
	}
	a := newCohort(t, cfgA)
	for range 2 {
		if _, err := bootstrap.Cohort(context.Background(), a.plan, a.keys, nil, bootstrap.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	a.Remove(context.Background())
	if after := snapshot(t, "lfit-cb"); after != snapB {
		t.Errorf("cohort lfit-cb changed while lfit-ca came and went:\nbefore:\n%s\nafter:\n%s", snapB, after)
	}
	if left := snapshot(t, "lfit-ca"); strings.TrimSpace(left) != "" {
		t.Errorf("lfit-ca left: %s", left)
	}
	again, err := bootstrap.Cohort(context.Background(), b.plan, b.keys, nil, bootstrap.Options{})
	if err != nil || again["team1"].Swarm.ClusterID != before["team1"].Swarm.ClusterID || len(again["team1"].Swarm.Actions) != 0 {
		t.Errorf("lfit-cb after: %v, %+v", err, again["team1"].Swarm)
	}
}
