package sshexec

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// turnedAway counts connections closed before the SSH handshake (serveOn's notReady).
	turnedAway int
	ended      chan commandEnd // every command that ended, as long as there is room
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
	t.Cleanup(func() { ln.Close() })
	return serveOn(ln, hostKey, client, 0)
}

// serveOn serves SSH on ln, after closing the first notReady connections at once, as the
// published port of a node whose sshd has not started yet does (docker-proxy, a VM's
// forwarded port): the TCP connect succeeds and the SSH handshake meets EOF. The test
// closes ln.
func serveOn(ln net.Listener, hostKey ssh.Signer, client ssh.PublicKey, notReady int) *testServer {
	s := &testServer{addr: ln.Addr().String(), hostKey: hostKey, ln: ln, freezeC: make(chan struct{}), ended: make(chan commandEnd, 64)}
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
			s.mu.Lock()
			turnAway := s.turnedAway < notReady
			if turnAway {
				s.turnedAway++
			}
			s.mu.Unlock()
			if turnAway {
				raw.Close()
				continue
			}
			go s.serve(&freezable{Conn: raw, s: s}, cfg)
		}
	}()
	return s
}

// refusingPort holds a loopback port that refuses connections: a TCP socket bound to it
// that never listens, so the kernel answers every connect with a reset, and no other
// process can take the port while the test runs (it is never freed and reused).
func refusingPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
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
				line := string(req.Payload[4 : 4+cmdLen])
				cmd := exec.Command("/bin/sh", "-c", line)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				req.Reply(true, nil)
				code := 0
				err := cmd.Start()
				if err == nil {
					go s.signals(creqs, cmd.Process.Pid)
					err = cmd.Wait()
				}
				if err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						code = ee.ExitCode()
					} else {
						code = 127
					}
				}
				select {
				case s.ended <- commandEnd{cmd: line, state: cmd.ProcessState}:
				default:
				}
				status := make([]byte, 4)
				binary.BigEndian.PutUint32(status, uint32(code))
				ch.SendRequest("exit-status", false, status)
				return
			}
		}()
	}
}

// commandEnd is how a command the server ran ended.
type commandEnd struct {
	cmd   string
	state *os.ProcessState // nil when it did not start
}

// signals acts on a running command's "signal" requests as sshd does, sending the signal
// to the command's process group (the shell and what it started).
func (s *testServer) signals(reqs <-chan *ssh.Request, pgid int) {
	for req := range reqs {
		if req.Type == "signal" {
			var msg struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &msg) == nil {
				if sig, ok := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT}[msg.Signal]; ok {
					_ = syscall.Kill(-pgid, sig)
				}
			}
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
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

// sshd comes up after the node's port answers: the first connections are closed before
// the handshake. The server counts them, so the test knows the dial retried through them
// without timing anything, and the port is the test's from start to end.
func TestDialRetriesUntilSSHDStarts(t *testing.T) {
	user, hostKey := newKey(t), newKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := serveOn(ln, hostKey, user.PublicKey(), 2)
	opts := fastOptions()
	opts.RetryFor = time.Minute // only a bound: the third attempt gets in
	c, err := Dial(context.Background(), Target{Node: "n", Addr: s.addr, User: "student", Signer: user, HostKey: hostKey.PublicKey()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.mu.Lock()
	turnedAway := s.turnedAway
	s.mu.Unlock()
	if turnedAway != 2 {
		t.Errorf("connected after %d attempts were turned away, want 2", turnedAway)
	}
	if out, err := c.Run(context.Background(), "echo up"); err != nil || out != "up\n" {
		t.Errorf("out=%q err=%v", out, err)
	}
}

func TestDialGivesUpWithTheLastError(t *testing.T) {
	addr := refusingPort(t)
	opts := fastOptions()
	opts.RetryFor = 700 * time.Millisecond
	start := time.Now()
	_, err := Dial(context.Background(), Target{Node: "t9-w3", Addr: addr, User: "u", Signer: newKey(t), HostKey: newKey(t).PublicKey()}, opts)
	if err == nil || !strings.Contains(err.Error(), "t9-w3") || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("gave up after %s, want about %s: RetryFor does not bound the retries", d, opts.RetryFor)
	}
}

// A command past its context's deadline is killed on the node (the client sends SIGKILL,
// which the test server, like sshd, delivers), and Run returns with the deadline at once,
// not when the command would have ended.
func TestCommandTimeoutKillsTheCommand(t *testing.T) {
	c, s := connected(t, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, "sleep 60")
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || ce.ExitCode != -1 {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Run returned after %s: it waited for the command, not for its context", d)
	}
	select {
	case end := <-s.ended:
		ws, ok := end.state.Sys().(syscall.WaitStatus)
		if end.cmd != "sleep 60" || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("%q ended with %v, want killed by SIGKILL", end.cmd, end.state)
		}
	case <-time.After(30 * time.Second): // only a bound: the kill is sent as Run returns
		t.Error("the command still runs on the node")
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
