package swarm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
)

// A dockerd that has just started reports an empty swarm state before its swarm component
// is up. Taking that as an answer made the converger "leave" a swarm the node was never in
// (seen once in CI); it must wait for the real state.
func TestWaitForDockerWaitsForARealSwarmState(t *testing.T) {
	c := &converger{
		team:    "t",
		members: []Member{{Name: "t-m1", Role: plan.Manager, IP: "10.0.0.10", Run: stepstest.New(t).On("docker info", info(""), info(""), info("inactive"))}},
		timing:  Timing{DockerReady: 5 * time.Second, Poll: time.Millisecond},
		state:   map[string]localState{},
	}
	if err := c.waitForDocker(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.state["t-m1"].LocalNodeState; got != "inactive" {
		t.Errorf("state = %q, want inactive", got)
	}
}

func TestWaitForDockerGivesUpNamingTheNode(t *testing.T) {
	c := &converger{
		team:    "t",
		members: []Member{{Name: "t-w9", Role: plan.Worker, Run: stepstest.New(t).On("docker info", info(""))}},
		timing:  Timing{DockerReady: 20 * time.Millisecond, Poll: time.Millisecond},
		state:   map[string]localState{},
	}
	err := c.waitForDocker(context.Background())
	if err == nil || !strings.Contains(err.Error(), "node t-w9") || !strings.Contains(err.Error(), "dockerd did not answer: not done after") {
		t.Fatalf("err = %v", err)
	}
}

func info(state string) string {
	return `{"NodeID":"","LocalNodeState":"` + state + `","ControlAvailable":false}`
}
