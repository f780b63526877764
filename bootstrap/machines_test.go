package bootstrap

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/bootstrap/sshkeys"
)

// silentMachine accepts SSH connections on loopback and never answers: a machine whose sshd
// hangs, which a teardown must not wait on for ever.
func silentMachine(t *testing.T) Machine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return Machine{Node: "team1-w1", Target: ln.Addr().String(), User: "admin"}
}

func adminSigner(t *testing.T) *sshkeys.Keys {
	t.Helper()
	keys, err := sshkeys.New("0123456789abcdef0123456789abcdef", "spring")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// A hanging machine stops its teardown at the limit, and the error says so, naming the team
// and the machine: pulumi destroy does not hang with it.
func TestATeardownThatHangsStopsAtItsLimit(t *testing.T) {
	m := silentMachine(t)
	patient := sshexec.Options{AttemptTimeout: time.Hour, RetryFor: time.Hour, MaxBackoff: time.Second, KeepaliveInterval: time.Hour, KeepaliveMisses: 3}
	_, err := teardownMachines(context.Background(), "team1", []Machine{m}, adminSigner(t).Admin().Signer(), patient, 300*time.Millisecond)
	for _, want := range []string{"team team1: removing labfleet from its machines", "node team1-w1", m.Target, "the teardown took longer than its 300ms limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
}

// Cancelled (the program stopping), a teardown stops at once, however long its limit.
func TestACancelledTeardownStops(t *testing.T) {
	m := silentMachine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	patient := sshexec.Options{AttemptTimeout: time.Hour, RetryFor: time.Hour, MaxBackoff: time.Second, KeepaliveInterval: time.Hour, KeepaliveMisses: 3}
	_, err := teardownMachines(ctx, "team1", []Machine{m}, adminSigner(t).Admin().Signer(), patient, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "node team1-w1") {
		t.Errorf("err = %v", err)
	}
}
