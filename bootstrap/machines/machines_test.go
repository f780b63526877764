package machines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/steps/stepstest"
	"github.com/labfleet/labfleet/model/plan"
)

const (
	debian = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n"
	mint   = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"
	fedora = "NAME=\"Fedora Linux\"\nPRETTY_NAME=\"Fedora Linux 42 (Workstation Edition)\"\nID=fedora\n"

	studentKey = "ssh-ed25519 AAAAstudent student@team1"
	adminKey   = "ssh-ed25519 AAAAadmin labfleet@cohort"
)

var setup = Setup{Cohort: "spring", Team: "team1", Node: "team1-m1", StudentKey: studentKey + "\n", AdminKey: adminKey}

// cmd is the command a step script runs as, for a root login (sudo "") or not ("sudo -n ").
func cmd(sudo, step string) string { return sudo + "sh -s -- " + step }

// allInstalled is check-packages on a machine that has every package and Docker.
func allInstalled() string {
	var b strings.Builder
	for _, p := range Packages {
		if p == "dnsutils" { // as on Debian 13, where it is only a virtual package
			b.WriteString("ii  bind9-dnsutils dnsutils (= 1:9.20.15-1~deb13u1)\nun  dnsutils \n")
			continue
		}
		b.WriteString("ii  " + p + " \n")
	}
	return b.String() + "command docker\ncommand dockerd\n"
}

// fresh is a Debian machine with nothing of labfleet's: no packages, no docker, no accounts,
// no systemd. It answers what Prepare asks such a machine, and nothing else.
func fresh(t *testing.T, sudo string) *stepstest.Node {
	n := stepstest.New(t).On("cat /etc/os-release", debian)
	if sudo == "" {
		n.On("id -u", "0\n")
	} else {
		n.On("id -u", "1000\n").On("sudo -n true")
	}
	// Every file labfleet reads or writes is absent (`cat ... || true` and `sha256sum ... ||
	// true` print nothing), and writing one starts by making its directory.
	for _, f := range []string{RecordPath, "/etc/sudoers.d/labfleet-student", "/etc/sudoers.d/labfleet-admin",
		"/home/student/.ssh/authorized_keys", "/home/labfleet/.ssh/authorized_keys"} {
		n.On(sudo + "cat " + f + " 2>/dev/null || true").On(sudo + "sha256sum " + f + " 2>/dev/null || true")
	}
	for _, dir := range []string{"-m 0755 /etc/labfleet", "-m 0755 /etc/sudoers.d"} {
		n.On(sudo + "mkdir -p " + dir + " && ")
	}
	// An account's own files (its authorized_keys) are written as that account.
	for _, account := range []string{"student", "labfleet"} {
		n.On(asAccount(sudo, account))
	}
	return n.On(cmd(sudo, "check-packages")).
		On(cmd(sudo, "install-packages"), "installed "+strings.Join(Packages, " ")+"\n").
		On(cmd(sudo, "check-docker")).
		On(cmd(sudo, "start-dockerd")).
		On(sudo+"docker info --format '{{.ServerVersion}}'", "29.1.3\n").
		On(cmd(sudo, "check-accounts")).
		On(sudo + "useradd ")
}

// ready is a machine that a Prepare already made a node: everything is there.
func ready(t *testing.T, sudo string) *stepstest.Node {
	rec := record{node: "spring team1 team1-m1", packages: Packages, accounts: []string{"student", "labfleet"},
		files: []string{"/etc/sudoers.d/labfleet-student", "/etc/sudoers.d/labfleet-admin"},
		keys:  map[string]string{"student": studentKey, "labfleet": adminKey}}
	return fresh(t, sudo).
		On(cmd(sudo, "check-packages"), allInstalled()).
		On(cmd(sudo, "check-docker"), "answers\n").
		On(cmd(sudo, "check-accounts"), "account student /home/student student,docker,sudo\naccount labfleet /home/labfleet labfleet,docker\n").
		On(sudo+"cat "+RecordPath, rec.String()).
		On(sudo+"sha256sum /etc/sudoers.d/labfleet-student", sha256Line("student ALL=(ALL) NOPASSWD:ALL\n", "/etc/sudoers.d/labfleet-student")).
		On(sudo+"sha256sum /etc/sudoers.d/labfleet-admin", sha256Line("labfleet ALL=(ALL) NOPASSWD:ALL\n", "/etc/sudoers.d/labfleet-admin")).
		On(sudo+"cat /home/student/.ssh/authorized_keys", studentKey+"\n").
		On(sudo+"cat /home/labfleet/.ssh/authorized_keys", "ssh-rsa AAAAmine me@laptop\n"+adminKey+"\n")
}

// asAccount is how a command runs as an account: through sudo, or runuser for a root login.
func asAccount(sudo, account string) string {
	if sudo == "" {
		return "runuser -u " + account + " -- sh -c "
	}
	return "sudo -n -u " + account + " sh -c "
}

// sha256Line is what sha256sum prints for a file of this content.
func sha256Line(content, file string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:]) + "  " + file + "\n"
}

func TestPrepareOnAReadyMachineDoesNothing(t *testing.T) {
	for _, sudo := range []string{"", "sudo -n "} {
		n := ready(t, sudo)
		actions, err := Prepare(context.Background(), n, setup)
		if err != nil || len(actions) != 0 {
			t.Fatalf("sudo %q: actions %q, err %v", sudo, actions, err)
		}
		for _, c := range n.Commands() {
			if strings.Contains(c, "install-packages") || strings.Contains(c, "apt") || strings.Contains(c, "tee ") ||
				strings.Contains(c, "useradd") || strings.Contains(c, "systemctl") || strings.Contains(c, "start-dockerd") {
				t.Errorf("sudo %q: a ready machine ran %q", sudo, c)
			}
		}
	}
}

func TestPrepareAFreshMachineAsRoot(t *testing.T) {
	n := fresh(t, "")
	actions, err := Prepare(context.Background(), n, setup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"install " + strings.Join(Packages, ", ") + " on team1-m1",
		"start dockerd in the background on team1-m1 (no systemd there; log /var/log/labfleet-dockerd.log; not restarted after a reboot)",
		"create account student on team1-m1",
		"allow student sudo without a password (/etc/sudoers.d/labfleet-student) on team1-m1",
		"put labfleet's key for student in /home/student/.ssh/authorized_keys on team1-m1",
		"create account labfleet on team1-m1",
		"allow labfleet sudo without a password (/etc/sudoers.d/labfleet-admin) on team1-m1",
		"put labfleet's key for labfleet in /home/labfleet/.ssh/authorized_keys on team1-m1",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	// Every package is asked for, docker-cli only where the distribution has it.
	var install string
	for _, c := range n.Commands() {
		if strings.HasPrefix(c, "sudo") || strings.Contains(c, "&& sudo") {
			t.Errorf("a root login went through sudo: %q", c)
		}
		if strings.HasPrefix(c, cmd("", "install-packages")) {
			install = c
		}
	}
	if !strings.Contains(install, " docker.io 'docker-cli?' sudo ") || !strings.HasSuffix(install, " dnsutils") {
		t.Errorf("install command %q", install)
	}
	if !n.Ran("useradd --create-home --home-dir /home/student --shell /bin/bash --groups docker,sudo student") ||
		!n.Ran("useradd --create-home --home-dir /home/labfleet --shell /bin/bash --groups docker labfleet") {
		t.Errorf("accounts: %q", n.Commands())
	}
	// What was written: the record (first the packages, finally every account, file and
	// key), the sudoers files and the keys.
	stdin := n.Stdin()
	written := strings.Join(stdin, "\n")
	for _, w := range []string{"package docker.io\n", "account student\n", "account labfleet\n", "file /etc/sudoers.d/labfleet-admin\n",
		"key student " + studentKey + "\n", "student ALL=(ALL) NOPASSWD:ALL\n", "labfleet ALL=(ALL) NOPASSWD:ALL\n"} {
		if !strings.Contains(written, w) {
			t.Errorf("nothing written contains %q", w)
		}
	}
	if !slices.Contains(stdin, studentKey+"\n") || !slices.Contains(stdin, adminKey+"\n") {
		t.Errorf("the keys were not written alone in new accounts: %q", stdin)
	}
}

// The machine's identity is the first thing recorded: a machine that is a node keeps being
// that node when labfleet:machines changes (the plan reads it back), even if the run that
// prepared it stopped half-way.
func TestPrepareRecordsTheNodeFirst(t *testing.T) {
	n := fresh(t, "").Fail(cmd("", "install-packages"), errors.New("exit code 100"))
	if _, err := Prepare(context.Background(), n, setup); err == nil {
		t.Fatal("a failed install passed")
	}
	if stdin := n.Stdin(); len(stdin) == 0 || stdin[0] != recordHeader+"node spring team1 team1-m1\n" {
		t.Fatalf("the first thing written is not the record of the node alone: %q", stdin)
	}
	got := ParseRecordedNode("spring team1 team1-m1")
	if got == nil || *got != (plan.RecordedNode{Cohort: "spring", Team: "team1", Node: "team1-m1"}) || ParseRecordedNode("-") != nil {
		t.Errorf("ParseRecordedNode: %+v", got)
	}
}

// The account is recorded as labfleet's before it is created: a run that stops right after
// useradd must not leave an account that the teardown would take for the machine's own.
func TestPrepareRecordsAnAccountBeforeCreatingIt(t *testing.T) {
	n := fresh(t, "").Fail("useradd", errors.New("exit code 1"))
	if _, err := Prepare(context.Background(), n, setup); err == nil || !strings.Contains(err.Error(), "machine team1-m1: accounts: exit code 1") {
		t.Fatalf("err = %v", err)
	}
	if last := n.Stdin()[len(n.Stdin())-1]; !strings.Contains(last, "account student\n") {
		t.Errorf("last record written before useradd: %q", last)
	}
}

// A student account of the machine's own gets labfleet's groups, recorded before usermod:
// the teardown takes back exactly those, even after a run that stopped right there.
func TestPrepareRecordsTheGroupsItAddsToAnAccountOfTheMachines(t *testing.T) {
	n := fresh(t, "").On(cmd("", "check-accounts"), "account student /home/student student,audio\n").
		Fail("usermod", errors.New("exit code 1"))
	if _, err := Prepare(context.Background(), n, setup); err == nil {
		t.Fatal("a failed usermod passed")
	}
	if !n.Ran("usermod -a -G docker,sudo student") {
		t.Errorf("commands %q", n.Commands())
	}
	last := n.Stdin()[len(n.Stdin())-1]
	if !strings.Contains(last, "group student docker\ngroup student sudo\n") || strings.Contains(last, "account student\n") {
		t.Errorf("last record written before usermod: %q", last)
	}
}

func TestPrepareThroughSudoUsesItForEverythingButTheChecks(t *testing.T) {
	n := fresh(t, "sudo -n ")
	if _, err := Prepare(context.Background(), n, setup); err != nil {
		t.Fatal(err)
	}
	cmds := n.Commands()
	if !slices.Equal(cmds[:3], []string{"cat /etc/os-release", "id -u", "sudo -n true"}) {
		t.Errorf("first commands %q", cmds[:3])
	}
	for _, c := range cmds[3:] {
		if strings.HasPrefix(c, "sudo -n -u ") {
			continue // a script run as an account (its own files), through sudo as a whole
		}
		for _, part := range strings.Split(strings.ReplaceAll(c, "(umask 077 && ", ""), " && ") {
			if !strings.HasPrefix(part, "sudo -n ") {
				t.Errorf("not through sudo -n: %q in %q", part, c)
			}
		}
	}
}

func TestPrepareNeedsRootOrPasswordlessSudo(t *testing.T) {
	n := fresh(t, "sudo -n ").Fail("sudo -n true", errors.New("exit code 1: sudo: a password is required"))
	_, err := Prepare(context.Background(), n, setup)
	if err == nil || !strings.Contains(err.Error(), "machine team1-m1: the admin user (uid 1000) is not root and cannot use sudo without a password") ||
		!strings.Contains(err.Error(), "a password is required") {
		t.Fatalf("err = %v", err)
	}
	if n.Count("") != 3 {
		t.Errorf("ran more than the checks: %q", n.Commands())
	}
}

func TestPrepareRefusesAnOSWithoutApt(t *testing.T) {
	n := fresh(t, "").On("cat /etc/os-release", fedora)
	_, err := Prepare(context.Background(), n, setup)
	if err == nil {
		t.Fatal("Fedora accepted")
	}
	for _, w := range []string{"machine team1-m1", "Fedora Linux 42 (Workstation Edition)", "labfleet supports Debian and Ubuntu"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if n.Count("") != 1 {
		t.Errorf("went on after the OS check: %q", n.Commands())
	}
	// A derivative of Ubuntu is fine.
	if err := supportedOS("m", mint); err != nil {
		t.Error(err)
	}
}

func TestPrepareEnablesDockerWhereSystemdRuns(t *testing.T) {
	n := ready(t, "").On(cmd("", "check-docker"), "answers\nsystemd\n").On("systemctl enable --now docker")
	actions, err := Prepare(context.Background(), n, setup)
	if err != nil || !slices.Equal(actions, []string{"enable and start docker.service (systemctl enable --now docker) on team1-m1"}) {
		t.Fatalf("actions %q err %v", actions, err)
	}
	if !n.Ran("systemctl enable --now docker") || !n.Ran("docker info --format '{{.ServerVersion}}'") {
		t.Errorf("docker.service not enabled, or not waited for: %q", n.Commands())
	}
	if n.Ran(cmd("", "start-dockerd")) {
		t.Error("started dockerd by hand beside systemd")
	}
}

func TestMissingPackagesNeverReplaceAnotherDocker(t *testing.T) {
	// Docker CE: dockerd and docker exist, docker.io and docker-cli are not installed.
	ce := strings.ReplaceAll(strings.ReplaceAll(allInstalled(), "ii  docker.io", "un  docker.io"), "ii  docker-cli", "un  docker-cli")
	if got := missingPackages(ce); len(got) != 0 {
		t.Errorf("with Docker CE: %q", got)
	}
	// Ubuntu's docker.io carries the docker command: no docker-cli wanted.
	ubuntu := strings.ReplaceAll(allInstalled(), "ii  docker-cli", "un  docker-cli")
	if got := missingPackages(ubuntu); len(got) != 0 {
		t.Errorf("with Ubuntu's docker.io: %q", got)
	}
	// Removed with its configuration kept ("rc") is missing.
	if got := missingPackages(strings.ReplaceAll(allInstalled(), "ii  jq", "rc  jq")); !slices.Equal(got, []string{"jq"}) {
		t.Errorf("jq removed: %q", got)
	}
	// A package that only an uninstalled one provides is missing.
	if got := missingPackages(strings.ReplaceAll(allInstalled(), "ii  bind9-dnsutils", "rc  bind9-dnsutils")); !slices.Equal(got, []string{"dnsutils"}) {
		t.Errorf("bind9-dnsutils removed: %q", got)
	}
}

func TestKeyLinesKeepTheOwnersKeys(t *testing.T) {
	mine := "ssh-rsa AAAAmine me@laptop\n"
	for _, tc := range []struct{ file, old, want string }{
		{"", "", "NEW\n"},
		{"NEW\n", "", "NEW\n"},
		{mine, "", mine + "NEW\n"},
		{mine + "OLD\n", "OLD", mine + "NEW\n"},
		{"OLD\n" + mine + "NEW", "OLD", mine + "NEW\n"},
	} {
		if got := withKey(tc.file, "NEW", tc.old); got != tc.want {
			t.Errorf("withKey(%q, old %q) = %q, want %q", tc.file, tc.old, got, tc.want)
		}
	}
	if got := withoutKey(mine+"NEW\n", "NEW"); got != mine {
		t.Errorf("withoutKey = %q", got)
	}
}

func TestRecordReadsBackWhatItWrote(t *testing.T) {
	r := record{node: "spring team1 team1-m1", packages: []string{"jq"}, accounts: []string{"student"}, files: []string{"/etc/sudoers.d/labfleet-student"},
		keys: map[string]string{"admin": adminKey, "student": studentKey}, groups: map[string][]string{"admin": {"docker", "sudo"}}}
	if got := parseRecord(r.String()); got.String() != r.String() {
		t.Errorf("read back:\n%s\nwrote:\n%s", got, r)
	}
	if (record{}).String() != "" || !parseRecord("").empty() {
		t.Error("an empty record is not empty")
	}
}

func TestTeardownOfAMachineNeverPreparedDoesNothing(t *testing.T) {
	n := stepstest.New(t).On("id -u", "1000\n").On("sudo -n true").On("sudo -n cat /etc/labfleet/machine 2>/dev/null || true")
	actions, err := Teardown(context.Background(), n, "team1-m1")
	if err != nil || len(actions) != 0 {
		t.Fatalf("actions %q err %v", actions, err)
	}
	if got := n.Commands(); !slices.Equal(got, []string{"id -u", "sudo -n true", "sudo -n cat /etc/labfleet/machine 2>/dev/null || true"}) {
		t.Errorf("commands %q", got)
	}
}

func TestTeardownRemovesWhatLabfleetAddedAndKeepsTheMachinesOwn(t *testing.T) {
	// labfleet created student; the admin login "labfleet" was the machine's own.
	rec := record{packages: []string{"jq"}, accounts: []string{"student"},
		files: []string{"/etc/sudoers.d/labfleet-student", "/etc/sudoers.d/labfleet-admin"},
		keys:  map[string]string{"student": studentKey, "labfleet": adminKey}}
	n := stepstest.New(t).On("id -u", "0\n").
		On("cat "+RecordPath, rec.String()).
		On("docker info --format '{{.Swarm.LocalNodeState}}'", "active\n").
		On("sh -c 'if [ -x /usr/local/bin/kind ]", "day3\n").
		On(cmd("", "remove-tools"), "/usr/local/bin/kind\n/usr/local/bin/kubectl\n").
		On(cmd("", "remove-images"), "memory-leak-app:latest\nkindest/node:v1.33.1\n").
		On(cmd("", "check-accounts"), "account student /home/student student,docker,sudo\naccount labfleet /home/labfleet labfleet,docker\n").
		On("cat /home/labfleet/.ssh/authorized_keys", "ssh-rsa AAAAmine me@laptop\n"+adminKey+"\n").
		On(asAccount("", "labfleet")).
		On(cmd("", "remove-files"), "/etc/sudoers.d/labfleet-student\n/etc/sudoers.d/labfleet-admin\n").
		On("docker swarm leave --force").
		On(cmd("", "clean-after-swarm")).
		On(cmd("", "stop-dockerd")).
		On(cmd("", "check-docker")). // stopped, no systemd: started again as Prepare does
		On(cmd("", "start-dockerd")).
		On("docker info --format '{{.ServerVersion}}'", "29.1.3\n").
		On("/usr/local/bin/kind delete cluster --name day3").
		On(cmd("", "delete-account")).
		On("rm -rf /etc/labfleet")
	actions, err := Teardown(context.Background(), n, "team1-m1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"leave the swarm on team1-m1",
		"restart dockerd on team1-m1 to clear the swarm's network namespaces",
		"delete kind cluster day3 on team1-m1",
		"remove /usr/local/bin/kind, /usr/local/bin/kubectl on team1-m1",
		"remove images memory-leak-app:latest, kindest/node:v1.33.1 on team1-m1",
		"delete account student and its home on team1-m1",
		"take labfleet's key out of /home/labfleet/.ssh/authorized_keys (the account was there before labfleet) on team1-m1",
		"remove /etc/sudoers.d/labfleet-student, /etc/sudoers.d/labfleet-admin on team1-m1",
		"remove /etc/labfleet on team1-m1",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	if !n.Ran("docker swarm leave --force") || !n.Ran(cmd("", "stop-dockerd")) || !n.Ran("/usr/local/bin/kind delete cluster --name day3") || !n.Ran("rm -rf /etc/labfleet") {
		t.Errorf("commands %q", n.Commands())
	}
	if n.Count(cmd("", "delete-account")) != 1 || !slices.Contains(n.Stdin(), "ssh-rsa AAAAmine me@laptop\n") {
		t.Errorf("deleted or rewrote the wrong accounts: %q, wrote %q", n.Commands(), n.Stdin())
	}
}

// A student account that was there before labfleet keeps its home and its own groups, and
// leaves the ones labfleet added (one of which someone already took back).
func TestTeardownGivesAnAccountOfTheMachinesItsGroupsBack(t *testing.T) {
	rec := record{keys: map[string]string{"student": studentKey}, groups: map[string][]string{"student": {"docker", "sudo"}}}
	n := stepstest.New(t).On("id -u", "0\n").
		On("cat "+RecordPath, rec.String()).
		On("docker info --format '{{.Swarm.LocalNodeState}}'", "inactive\n").
		On("sh -c 'if [ -x /usr/local/bin/kind ]").
		On(cmd("", "remove-tools")).
		On(cmd("", "remove-images")).
		On(cmd("", "check-accounts"), "account student /home/student student,audio,sudo\n").
		On("gpasswd --delete student sudo").
		On("cat /home/student/.ssh/authorized_keys", studentKey+"\n").
		On(asAccount("", "student")).
		On(cmd("", "remove-files")).
		On("rm -rf /etc/labfleet")
	actions, err := Teardown(context.Background(), n, "team1-m1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Ran("gpasswd --delete student docker") || n.Ran(cmd("", "delete-account")) || n.Ran("userdel") {
		t.Errorf("commands %q", n.Commands())
	}
	want := "take account student out of group sudo, which labfleet added (the account was there before labfleet) on team1-m1"
	if !slices.Contains(actions, want) {
		t.Errorf("actions %q lack %q", actions, want)
	}
}

func TestTeardownNeedsDockerToLeaveTheSwarm(t *testing.T) {
	n := stepstest.New(t).On("id -u", "0\n").On("cat "+RecordPath, "account student\n").
		Fail("docker info", errors.New("exit code 1: Cannot connect to the Docker daemon"))
	_, err := Teardown(context.Background(), n, "team1-m1")
	if err == nil || !strings.Contains(err.Error(), "machine team1-m1: teardown: leave the swarm: dockerd does not answer") {
		t.Fatalf("err = %v", err)
	}
	if n.Ran("rm -rf") || n.Ran(cmd("", "delete-account")) {
		t.Error("went on without leaving the swarm")
	}
}
