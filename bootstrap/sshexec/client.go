// Package sshexec runs commands on labfleet nodes over SSH (golang.org/x/crypto/ssh).
// It pins each node's host key, retries the dial with backoff while sshd is still coming
// up, keeps the connection alive, bounds every command with a context, and returns errors
// that carry the node, the command, its exit code and its stderr.
package sshexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Target is one node's sshd and how to log in to it.
type Target struct {
	Node   string // for errors: the node name
	Addr   string // host:port
	User   string
	Signer ssh.Signer
	// HostKey is pinned: any other key is refused. nil trusts the key the node presents
	// (an existing machine whose key the instructor did not give), which Client.HostKey tells.
	HostKey ssh.PublicKey
}

// Options tune dialing and liveness. The zero value gets DefaultOptions.
type Options struct {
	AttemptTimeout    time.Duration // one TCP connect plus SSH handshake
	RetryFor          time.Duration // keep retrying a failed dial this long
	MaxBackoff        time.Duration
	KeepaliveInterval time.Duration
	KeepaliveMisses   int // close the connection after this many unanswered keepalives
}

// DefaultOptions suit containers that were just started: sshd answers within seconds,
// dockerd may take a while longer.
var DefaultOptions = Options{
	AttemptTimeout:    10 * time.Second,
	RetryFor:          90 * time.Second,
	MaxBackoff:        3 * time.Second,
	KeepaliveInterval: 10 * time.Second,
	KeepaliveMisses:   3,
}

// ErrHostKeyMismatch means the node presented a host key other than the pinned one:
// something else answers on that port. It is never retried.
var ErrHostKeyMismatch = errors.New("host key mismatch")

// ErrAuthRefused means the node's sshd refused the key. It is never retried.
var ErrAuthRefused = errors.New("authentication refused")

// ErrUnreachable means no SSH session could be opened before the retries or the context
// ran out: the node did not answer, or not as an SSH server. errors.Is finds it in what Dial
// returns; the message stays the cause's own.
var ErrUnreachable = errors.New("unreachable")

type unreachable struct{ error }

func (unreachable) Is(target error) bool { return target == ErrUnreachable }
func (u unreachable) Unwrap() error      { return u.error }

// Client is an open SSH connection to one node.
type Client struct {
	target  Target
	conn    *ssh.Client
	stop    chan struct{}
	hostKey ssh.PublicKey
}

// HostKey is the key the node presented (the pinned one, when one was given).
func (c *Client) HostKey() ssh.PublicKey { return c.hostKey }

// Dial connects to t, retrying transient failures (refused connections, resets, a sshd
// that is not ready) with exponential backoff until opts.RetryFor or ctx ends.
func Dial(ctx context.Context, t Target, opts Options) (*Client, error) {
	if opts == (Options{}) {
		opts = DefaultOptions
	}
	var presented ssh.PublicKey
	config := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(t.Signer)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			presented = key
			if t.HostKey == nil {
				return nil
			}
			if !bytes.Equal(key.Marshal(), t.HostKey.Marshal()) {
				return fmt.Errorf("%w: got %s, want %s", ErrHostKeyMismatch, ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(t.HostKey))
			}
			return nil
		},
	}
	if t.HostKey != nil {
		// Offer only the pinned key's algorithm, or the server may present another of its
		// keys and a correct host would look like a mismatch (golang/go#29286).
		config.HostKeyAlgorithms = []string{t.HostKey.Type()}
	}
	start := time.Now()
	deadline := start.Add(opts.RetryFor)
	backoff := 200 * time.Millisecond
	var lastErr error
	for attempt := 1; ; attempt++ {
		conn, err := dialOnce(ctx, t.Addr, config, opts.AttemptTimeout)
		if err == nil {
			c := &Client{target: t, conn: conn, stop: make(chan struct{}), hostKey: presented}
			go c.keepalive(opts.KeepaliveInterval, opts.KeepaliveMisses)
			return c, nil
		}
		lastErr = err
		if errors.Is(err, ErrHostKeyMismatch) {
			return nil, fmt.Errorf("node %s: ssh %s: %w", t.Node, t.Addr, err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			// labfleet installs the keys before sshd starts, so a refused key will not
			// become accepted by waiting: say at once who was refused.
			return nil, fmt.Errorf("node %s: ssh %s: %w: user %q with key %s was refused (the node does not have labfleet's key: was it replaced by hand, or its keys changed?): %v",
				t.Node, t.Addr, ErrAuthRefused, t.User, ssh.FingerprintSHA256(t.Signer.PublicKey()), err)
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("node %s: ssh %s: still failing after %d attempts over %s: %w", t.Node, t.Addr, attempt, time.Since(start).Round(100*time.Millisecond), unreachable{lastErr})
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s: ssh %s: %w (last error: %v)", t.Node, t.Addr, unreachable{ctx.Err()}, lastErr)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

// dialOnce bounds the handshake too (ClientConfig.Timeout covers only the TCP connect), by
// its timeout and by ctx.
func dialOnce(ctx context.Context, addr string, config *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(timeout))
	// A peer that accepts and never speaks holds the handshake until the deadline: ctx ending
	// (Ctrl-C, a teardown's limit) ends it at once.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, config)
	if !stop() && err == nil {
		err = ctx.Err()
		c.Close()
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func (c *Client) keepalive(every time.Duration, maxMisses int) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	misses := 0
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.conn.SendRequest("keepalive@labfleet", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				misses = maxMisses // the connection is gone
			} else {
				misses = 0
			}
		case <-time.After(every):
			misses++
		case <-c.stop:
			return
		}
		if misses >= maxMisses {
			c.conn.Close() // unblocks every running command with an error
			return
		}
	}
}

// Close ends the connection.
func (c *Client) Close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	return c.conn.Close()
}

// Node is the name of the node this client talks to.
func (c *Client) Node() string { return c.target.Node }

// Run runs cmd in the login user's shell and returns its stdout. A non-zero exit, a lost
// connection or an expired ctx returns a *CommandError.
func (c *Client) Run(ctx context.Context, cmd string) (string, error) {
	return c.RunWithInput(ctx, cmd, nil)
}

// RunWithInput is Run with stdin streamed from in (for example an image for `docker load`).
func (c *Client) RunWithInput(ctx context.Context, cmd string, in io.Reader) (string, error) {
	sess, err := c.conn.NewSession()
	if err != nil {
		return "", &CommandError{Node: c.target.Node, Cmd: cmd, ExitCode: -1, Err: err}
	}
	defer sess.Close()
	// The session's copy goroutines may still write after a cancelled command returns.
	var stdout, stderr lockedBuffer
	sess.Stdout, sess.Stderr, sess.Stdin = &stdout, &stderr, in

	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		// Closing the channel ends Run promptly; wait a little so its output is complete.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		err = ctx.Err()
	}
	if err == nil {
		return stdout.String(), nil
	}
	ce := &CommandError{Node: c.target.Node, Cmd: cmd, ExitCode: -1, Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		ce.ExitCode = exit.ExitStatus()
		ce.Err = nil
	}
	return stdout.String(), ce
}

// CommandError is a command that failed on a node, with everything needed to see why.
type CommandError struct {
	Node     string
	Cmd      string
	ExitCode int // -1 when the command did not exit normally (connection lost, timeout)
	Stdout   string
	Stderr   string
	Err      error // the transport error, if it never exited
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("node %s: `%s`", e.Node, e.Cmd)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	} else {
		msg += fmt.Sprintf(": exit code %d", e.ExitCode)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + lastLines(s, 5)
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
