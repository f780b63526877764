package sshexec

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testServer is a real SSH server on loopback that runs exec requests with /bin/sh, so the
// client is tested against the protocol, not a fake of it.
type testServer struct {
	addr    string
	hostKey ssh.Signer
	ln      net.Listener
	mu      sync.Mutex
	frozen  bool // stop reading from every connection (a hung peer)
	freezeC chan struct{}
}

func newKey(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startServer(t *testing.T, addr string, client ssh.PublicKey) *testServer {
	return startServerWithKey(t, addr, newKey(t), client)
}

func startServerWithKey(t *testing.T, addr string, hostKey ssh.Signer, client ssh.PublicKey) *testServer {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil
	}
	s := &testServer{addr: ln.Addr().String(), hostKey: hostKey, ln: ln, freezeC: make(chan struct{})}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(client.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(s.hostKey)
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(&freezable{Conn: raw, s: s}, cfg)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

type freezable struct {
	net.Conn
	s *testServer
}

func (f *freezable) Read(p []byte) (int, error) {
	f.s.mu.Lock()
	frozen := f.s.frozen
	f.s.mu.Unlock()
	if frozen {
		<-f.s.freezeC // never closed: a peer that went silent
	}
	return f.Conn.Read(p)
}

func (s *testServer) freeze() {
	s.mu.Lock()
	s.frozen = true
	s.mu.Unlock()
}

func (s *testServer) serve(raw net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(raw, cfg)
	if err != nil {
		raw.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type != "exec" {
					req.Reply(false, nil)
					continue
				}
				cmdLen := binary.BigEndian.Uint32(req.Payload)
				cmd := exec.Command("/bin/sh", "-c", string(req.Payload[4:4+cmdLen]))
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				req.Reply(true, nil)
				code := 0
				if err := cmd.Run(); err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						code = ee.ExitCode()
					} else {
						code = 127
					}
				}
				status := make([]byte, 4)
				binary.BigEndian.PutUint32(status, uint32(code))
				ch.SendRequest("exit-status", false, status)
				return
			}
		}()
	}
}

func target(s *testServer, user ssh.Signer) Target {
	return Target{Node: "t1-m1", Addr: s.addr, User: "student", Signer: user, HostKey: s.hostKey.PublicKey()}
}

// connected starts a server and returns a client logged in to it.
func connected(t *testing.T, opts Options) (*Client, *testServer) {
	t.Helper()
	user := newKey(t)
	s := startServer(t, "127.0.0.1:0", user.PublicKey())
	c, err := Dial(context.Background(), target(s, user), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, s
}

func fastOptions() Options {
	return Options{AttemptTimeout: time.Second, RetryFor: 5 * time.Second, MaxBackoff: 200 * time.Millisecond, KeepaliveInterval: time.Second, KeepaliveMisses: 3}
}

func TestRunReturnsStdoutAndErrorsCarryExitCodeAndStderr(t *testing.T) {
	c, _ := connected(t, fastOptions())
	out, err := c.Run(context.Background(), "echo hello")
	if err != nil || out != "hello\n" {
		t.Fatalf("out=%q err=%v", out, err)
	}
	_, err = c.Run(context.Background(), "echo partial; echo 'no such swarm' >&2; exit 3")
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v", err, err)
	}
	if ce.ExitCode != 3 || ce.Stderr != "no such swarm\n" || ce.Stdout != "partial\n" || ce.Node != "t1-m1" {
		t.Errorf("command error = %+v", ce)
	}
	for _, frag := range []string{"node t1-m1", "exit code 3", "no such swarm", "echo partial"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("%q lacks %q", err.Error(), frag)
		}
	}
}

func TestRunWithInputStreamsStdin(t *testing.T) {
	c, _ := connected(t, fastOptions())
	out, err := c.RunWithInput(context.Background(), "wc -c", strings.NewReader(strings.Repeat("x", 100000)))
	if err != nil || strings.TrimSpace(out) != "100000" {
		t.Fatalf("out=%q err=%v", out, err)
	}
}

// A machine whose key the instructor did not give: the key it presents is trusted and told.
func TestAnUnpinnedHostKeyIsTrustedAndTold(t *testing.T) {
	user := newKey(t)
	s := startServer(t, "127.0.0.1:0", user.PublicKey())
	tg := target(s, user)
	tg.HostKey = nil
	c, err := Dial(context.Background(), tg, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.HostKey(); got == nil || !bytes.Equal(got.Marshal(), s.hostKey.PublicKey().Marshal()) {
		t.Errorf("presented key %v, want the server's", got)
	}
}

func TestHostKeyMismatchFailsAtOnce(t *testing.T) {
	user := newKey(t)
	s := startServer(t, "127.0.0.1:0", user.PublicKey())
	tg := target(s, user)
	tg.HostKey = newKey(t).PublicKey()
	start := time.Now()
	_, err := Dial(context.Background(), tg, fastOptions())
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a mismatch was retried for %s", d)
	}
}

func TestDialRetriesUntilSSHDStarts(t *testing.T) {
	user, hostKey := newKey(t), newKey(t)
	// Reserve a port, free it, and start the server there only after a delay.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	go func() {
		time.Sleep(800 * time.Millisecond)
		startServerWithKey(t, addr, hostKey, user.PublicKey())
	}()
	start := time.Now()
	c, err := Dial(context.Background(), Target{Node: "n", Addr: addr, User: "student", Signer: user, HostKey: hostKey.PublicKey()}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("connected after %s, before the server existed", d)
	}
	if out, err := c.Run(context.Background(), "echo up"); err != nil || out != "up\n" {
		t.Errorf("out=%q err=%v", out, err)
	}
}

func TestDialGivesUpWithTheLastError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	opts := fastOptions()
	opts.RetryFor = 700 * time.Millisecond
	start := time.Now()
	_, err = Dial(context.Background(), Target{Node: "t9-w3", Addr: addr, User: "u", Signer: newKey(t), HostKey: newKey(t).PublicKey()}, opts)
	if err == nil || !strings.Contains(err.Error(), "t9-w3") || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %s, want about %s", d, opts.RetryFor)
	}
}

func TestCommandTimeoutKillsTheCommand(t *testing.T) {
	c, _ := connected(t, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, "sleep 5")
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || ce.ExitCode != -1 {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

func TestKeepaliveClosesAConnectionToASilentPeer(t *testing.T) {
	opts := fastOptions()
	opts.KeepaliveInterval = 100 * time.Millisecond
	opts.KeepaliveMisses = 2
	c, s := connected(t, opts)
	s.freeze()
	start := time.Now()
	// Without keepalives this would wait on the silent peer until the test times out.
	_, err := c.Run(context.Background(), "echo never")
	if err == nil {
		t.Fatal("command succeeded on a frozen peer")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("dead connection noticed after %s", d)
	}
}

func TestARefusedKeyFailsAtOnceNamingUserAndKey(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", newKey(t).PublicKey())
	other := newKey(t)
	opts := fastOptions()
	opts.RetryFor = time.Minute
	start := time.Now()
	_, err := Dial(context.Background(), target(s, other), opts)
	if !errors.Is(err, ErrAuthRefused) {
		t.Fatalf("err = %v", err)
	}
	for _, frag := range []string{"node t1-m1", `user "student"`, ssh.FingerprintSHA256(other.PublicKey())} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("%q lacks %q", err, frag)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a refused key was retried for %s", d)
	}
}

// Output read after a cancelled command must not race with the session still writing it
// (run with -race, as CI does).
func TestOutputOfACancelledCommandIsReadSafely(t *testing.T) {
	c, _ := connected(t, fastOptions())
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := c.Run(ctx, "while :; do echo output; echo errors >&2; done")
		cancel()
		var ce *CommandError
		if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		_ = ce.Error()
	}
}
