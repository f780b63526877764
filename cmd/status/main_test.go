package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const seed = "status-command-test-seed-0123456789abcdef"

func seedFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func runCommand(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, false)
	return out.String(), errOut.String(), code
}

func TestBadInputExitsWith2(t *testing.T) {
	good := seedFile(t, seed+"\n")
	outputs := `{"teams":{"team1":{"nodes":[{"name":"team1-m1","role":"manager","ssh":"127.0.0.1:1"}]}}}`
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no flags", outputs, nil, "-cohort and -seed-file are required"},
		{"no seed file", outputs, []string{"-cohort", "dev"}, "-cohort and -seed-file are required"},
		{"missing seed file", outputs, []string{"-cohort", "dev", "-seed-file", "/nonexistent/seed"}, "reading the key seed"},
		{"short seed", outputs, []string{"-cohort", "dev", "-seed-file", seedFile(t, "short\n")}, "labfleet:keySeed must be a secret of at least 32 characters"},
		{"no outputs", "", []string{"-cohort", "dev", "-seed-file", good}, "pipe `pulumi stack output --json` in"},
		{"unknown flag", outputs, []string{"-cohort", "dev", "-seed-file", good, "-colour"}, "flag provided but not defined: -colour"},
	} {
		stdout, stderr, code := runCommand(t, tc.stdin, tc.args...)
		if code != exitBadInput || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, want exit 2 and %q", tc.name, code, stdout, stderr, tc.want)
		}
	}
}

// A team whose nodes do not answer is reported, in the table or as JSON, with exit code 1;
// the seed never shows in what is printed. The "not ready" line is said once: the table
// ends with it, and with -json it goes to stderr, beside the JSON on stdout.
func TestUnreachableTeamExitsWith1(t *testing.T) {
	outputs := fmt.Sprintf(`{"teams":{"team1":{"nodes":[{"name":"team1-m1","role":"manager","ssh":"127.0.0.1:%d"}],"status":"ready"}}}`, closedPort(t))
	args := []string{"-cohort", "dev", "-seed-file", seedFile(t, seed+"\n")}
	const notReady = "1 of 1 teams not ready: team1"
	stdout, stderr, code := runCommand(t, outputs, args...)
	if code != exitNotReady || stderr != "" || strings.Count(stdout, notReady) != 1 {
		t.Errorf("exit %d, stderr %q, want exit 1, nothing on stderr and %q once in the table:\n%s", code, stderr, notReady, stdout)
	}
	for _, want := range []string{"team1  -     0/1    ?      -", "NOT READY", "team1-m1: unreachable: ssh 127.0.0.1:", "connection refused", "swarm: no manager answers SSH"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, code = runCommand(t, outputs, append(args, "-json")...)
	if stderr != "status: "+notReady+"\n" {
		t.Errorf("-json: stderr %q, want the not-ready line", stderr)
	}
	var report struct {
		Ready bool
		Teams []struct {
			Team     string
			Problems []string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != exitNotReady || report.Ready || report.Teams[0].Team != "team1" || len(report.Teams[0].Problems) != 2 {
		t.Errorf("exit %d, %v, report %s", code, err, stdout)
	}
	if strings.Contains(stdout+stderr, seed) {
		t.Error("the seed was printed")
	}
}
