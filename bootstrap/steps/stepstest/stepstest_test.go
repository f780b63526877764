package stepstest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// recordingT is a testing.TB that keeps what the Node reports instead of failing.
type recordingT struct {
	testing.TB
	errs []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAnUnscriptedCommandFailsTheTestAndNamesTheCommand(t *testing.T) {
	rt := &recordingT{TB: t}
	n := New(rt).On("docker info", "active\n")
	if out, err := n.Run(context.Background(), "docker info --format x"); err != nil || out != "active\n" {
		t.Fatalf("scripted: %q %v", out, err)
	}
	_, err := n.Run(context.Background(), "sudo docker swarm leave --force")
	var u *UnscriptedError
	if !errors.As(err, &u) || u.Cmd != "sudo docker swarm leave --force" || !strings.Contains(err.Error(), `"sudo docker swarm leave --force"`) {
		t.Errorf("err = %v, want one naming the command", err)
	}
	if len(rt.errs) != 1 || !strings.Contains(rt.errs[0], "sudo docker swarm leave --force") {
		t.Errorf("the test was told %q", rt.errs)
	}
	if got := n.Unscripted(); !slices.Equal(got, []string{"sudo docker swarm leave --force"}) {
		t.Errorf("unscripted %q", got)
	}
	// Without a test to fail, the error alone says it.
	if _, err := (&Node{}).Run(context.Background(), "true"); !errors.As(err, &u) {
		t.Errorf("zero Node: err = %v", err)
	}
}

func TestAnEndedContextIsHonoured(t *testing.T) {
	n := New(t).On("docker info", "active\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("pulumi up interrupted"))
	out, err := n.RunWithInput(ctx, "docker info", strings.NewReader("stdin"))
	if err == nil || out != "" || !strings.Contains(err.Error(), "pulumi up interrupted") {
		t.Errorf("out %q err %v, want the context's cause", out, err)
	}
	if len(n.Stdin()) != 0 {
		t.Errorf("stdin read after the end: %q", n.Stdin())
	}
	// The attempt is recorded all the same: rules about what must never run see it.
	if !n.Ran("docker info") {
		t.Error("the attempt is not recorded")
	}
}

func TestOutputsInTurnTheLastRepeatsAndLaterEntriesWin(t *testing.T) {
	n := New(t).On("docker", "any docker\n").On("docker info", "1", "2").Fail("docker info --bad", errors.New("exit code 1"))
	var got []string
	for _, cmd := range []string{"docker info", "docker info", "docker info", "docker ps"} {
		out, err := n.Run(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out)
	}
	if !slices.Equal(got, []string{"1", "2", "2", "any docker\n"}) {
		t.Errorf("outputs %q", got)
	}
	if _, err := n.Run(context.Background(), "docker info --bad"); err == nil {
		t.Error("a scripted failure passed")
	}
	if m := n.Matching(regexp.MustCompile(`\bps\b`)); !slices.Equal(m, []string{"docker ps"}) {
		t.Errorf("matching %q", m)
	}
}
