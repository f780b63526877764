package bootstrap

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// silentMachine accepts SSH connections on loopback and never answers: a machine whose sshd
// hangs, which a teardown must not wait on for ever. accepted is called at each connection.
func silentMachine(t *testing.T, accepted func()) Machine {
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
			accepted()
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
	m := silentMachine(t, func() {})
	patient := sshexec.Options{AttemptTimeout: time.Hour, RetryFor: time.Hour, MaxBackoff: time.Second, KeepaliveInterval: time.Hour, KeepaliveMisses: 3}
	err := returns(t, func() error {
		_, err := teardownMachines(context.Background(), "team1", []Machine{m}, adminSigner(t).Admin().Signer(), patient, 300*time.Millisecond)
		return err
	})
	for _, want := range []string{"team team1: removing labfleet from its machines", "node team1-w1", m.Target, "the teardown took longer than its 300ms limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
}

// Cancelled (the program stopping) while the machine holds its SSH handshake, a teardown
// stops at once, however long its limit.
func TestACancelledTeardownStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := silentMachine(t, cancel)
	patient := sshexec.Options{AttemptTimeout: time.Hour, RetryFor: time.Hour, MaxBackoff: time.Second, KeepaliveInterval: time.Hour, KeepaliveMisses: 3}
	err := returns(t, func() error {
		_, err := teardownMachines(ctx, "team1", []Machine{m}, adminSigner(t).Admin().Signer(), patient, time.Hour)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "node team1-w1") {
		t.Errorf("err = %v", err)
	}
}

// returns runs fn and gives its error; a hang (what these tests guard against) fails the test
// after a minute instead of holding go test until its own timeout.
func returns(t *testing.T, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute): // only a bound: the path under test returns in well under a second
		t.Fatal("the teardown did not return")
		return nil
	}
}
