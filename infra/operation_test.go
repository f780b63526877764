package infra

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMain keeps the settings `make` exports for the dev stack (and any left in the shell)
// out of the program tests, which run as the stack "spring".
func TestMain(m *testing.M) {
	os.Unsetenv("PULUMI_CONFIG_PASSPHRASE")
	os.Unsetenv(DestroyEnv)
	os.Exit(m.Run())
}

// asIfRunBy makes the program see the given pulumi subcommand as the one running it.
func asIfRunBy(t *testing.T, command string, err error) {
	t.Helper()
	saved := pulumiCommand
	pulumiCommand = func() (string, error) { return command, err }
	t.Cleanup(func() { pulumiCommand = saved })
}

func TestADestroyFlagLeftInTheShellNeverDeletesTheCohort(t *testing.T) {
	t.Setenv(DestroyEnv, "1")
	for _, c := range []struct {
		command string
		err     error
		want    string
	}{
		{"up", nil, "but this is pulumi up"},
		{"preview", nil, "but this is pulumi preview"},
		{"", nil, "something other than pulumi destroy"},
		{"", errors.New("ps: not found"), "could not tell which pulumi command"},
	} {
		asIfRunBy(t, c.command, c.err)
		r := runProgram(t, false, nil)
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) || !strings.Contains(r.err.Error(), "unset LABFLEET_DESTROY") {
			t.Errorf("run by %q: err = %v", c.command, r.err)
		}
		if len(r.m.resources) != 0 {
			t.Errorf("run by %q: %d resources registered", c.command, len(r.m.resources))
		}
	}
}

func TestMakeDestroyRegistersOnlyTheTeardownHook(t *testing.T) {
	t.Setenv(DestroyEnv, "1")
	for _, command := range []string{"destroy", "down", "dn"} {
		asIfRunBy(t, command, nil)
		r := runProgramWith(t, &fakeBootstrapper{}, false, nil)
		if r.err != nil {
			t.Fatalf("pulumi %s: %v", command, r.err)
		}
		// Nothing is converged before Pulumi deletes: no resource, no SSH, no export.
		if len(r.m.resources) != 0 || len(r.exports) != 0 || r.b.calls != 0 {
			t.Errorf("pulumi %s: %d resources, %d exports, %d bootstrap calls", command, len(r.m.resources), len(r.exports), r.b.calls)
		}
	}
}

func TestTheSubcommandIsReadFromThePulumiProcess(t *testing.T) {
	cases := []struct {
		processes [][]string
		want      string
	}{
		{[][]string{{"/tmp/pulumi-go.123/labfleet"}, {"pulumi-language-go", "-root", "/x", "127.0.0.1:4000"}, {"pulumi", "destroy", "--yes", "--run-program"}, {"make", "destroy"}}, "destroy"},
		{[][]string{{"labfleet"}, {"pulumi-language-go"}, {"/usr/local/bin/pulumi", "--cwd", "/lab", "up", "--stack", "destroy"}}, "up"},
		{[][]string{{"labfleet"}, {"pulumi-language-go"}, {"pulumi", "down", "-y"}}, "down"},
		{[][]string{{"labfleet"}, {"bash", "-c", "pulumi destroy"}}, ""},
		{[][]string{{"labfleet"}, {"pulumi-language-go", "destroy"}}, ""},
	}
	for _, c := range cases {
		if got := subcommandOf(c.processes); got != c.want {
			t.Errorf("%q: got %q; want %q", c.processes, got, c.want)
		}
	}
}

func TestAncestorsAreReadFromTheSystem(t *testing.T) {
	all, err := ancestorArgs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 || !slices.Equal(all[0], os.Args) {
		t.Fatalf("ancestors = %q, want this test binary %q first", all, os.Args)
	}
}

func TestTheDevPassphraseProtectsOnlyTheDevStack(t *testing.T) {
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", DevPassphrase)
	r := runProgram(t, true, nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "stack spring: PULUMI_CONFIG_PASSPHRASE is \"labfleet-local\"") || len(r.m.resources) != 0 {
		t.Fatalf("err = %v, %d resources", r.err, len(r.m.resources))
	}
	if err := checkPassphrase(DevStack); err != nil {
		t.Errorf("dev stack: %v", err)
	}
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "an instructor's own")
	if r := runProgram(t, true, nil); r.err != nil {
		t.Errorf("own passphrase: %v", r.err)
	}
}
