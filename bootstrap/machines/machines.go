// Package machines makes an instructor's existing Debian or Ubuntu machine (a VM, reached
// over SSH as the machine's own admin user) look like a labfleet node, so that the unchanged
// bootstrap can run on it, and removes what it added when the course is over. Nothing is
// created through Docker's API: everything happens over SSH, idempotently, and a second run
// on a prepared machine does nothing.
//
// What labfleet adds is listed on the machine in RecordPath, written before the thing is
// added, so that Teardown removes exactly that, even after a Prepare that stopped half way,
// and never an account that was there before labfleet.
package machines

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// Setup is what labfleet puts on one machine so that it becomes a node like any other.
type Setup struct {
	// The node the machine becomes, e.g. cohort "spring", team "team1", node "team1-m1": the
	// record names it, so the next plan keeps the machine that node (the hostname stays the
	// machine's own).
	Cohort, Team, Node string
	StudentKey         string // authorized_keys line of the team key, for plan.SSHUser
	AdminKey           string // authorized_keys line of labfleet's own key, for plan.AdminUser
}

// Paths labfleet owns on a machine.
const (
	// RecordDir is labfleet's directory on a node; the swarm convergence keeps state there too.
	RecordDir = "/etc/labfleet"
	// RecordPath lists what labfleet added to the machine (see record).
	RecordPath = RecordDir + "/machine"
	// DockerdLog is where a dockerd that labfleet starts without systemd writes.
	DockerdLog = "/var/log/labfleet-dockerd.log"
)

// Packages are the student tools of the node image (infra/nodeimage/Dockerfile) minus
// openssh-server: the machine already answers SSH with its own.
var Packages = []string{
	"docker.io", "docker-cli", "sudo", "ca-certificates", "iproute2", "iptables", "kmod", "procps",
	"curl", "jq", "apache2-utils", "less", "nano", "vim-tiny", "bash-completion", "iputils-ping", "dnsutils",
}

// account is one login labfleet needs on every node, as the node image makes it
// (infra/nodeimage/labfleet-accounts), with a sudoers file named so that it is clearly labfleet's.
type account struct {
	user    string
	groups  []string
	sudoers string
}

var accounts = []account{
	{user: plan.SSHUser, groups: []string{"docker", "sudo"}, sudoers: "/etc/sudoers.d/labfleet-student"},
	{user: plan.AdminUser, groups: []string{"docker"}, sudoers: "/etc/sudoers.d/labfleet-admin"},
}

// Tools are what the bootstrap installs in /usr/local/bin (Day 3's kind and kubectl, Day 2's
// labprobe); Teardown removes them.
var Tools = []string{"/usr/local/bin/kind", "/usr/local/bin/kubectl", "/usr/local/bin/labprobe"}

// DockerWait bounds the wait for a dockerd that was just installed or started.
var DockerWait = 60 * time.Second

// Prepare makes the machine behind r (logged in as its admin user: root, or a user with
// passwordless sudo, which it then uses as `sudo -n`) a node the bootstrap can converge. It
//  1. checks the OS: Debian, Ubuntu or a derivative (ID or ID_LIKE in /etc/os-release), since
//     it installs with apt;
//  2. installs the node image's student tools that are missing (apt-get update only then),
//     never docker.io over another Docker (docker-ce) that is already installed;
//  3. makes sure dockerd runs: `systemctl enable --now docker` where systemd is PID 1,
//     otherwise dockerd in the background (log: DockerdLog; it does not come back after a
//     reboot), and waits up to DockerWait for `docker info`;
//  4. creates the accounts plan.SSHUser (groups docker, sudo) and plan.AdminUser (group
//     docker), each with NOPASSWD sudo in its own /etc/sudoers.d file, and puts the key of
//     s in each one's ~/.ssh/authorized_keys, keeping any other keys there;
//  5. records in RecordPath what it created, for Teardown.
//
// It returns the actions it took, e.g. "install docker.io, jq on team1-m1"; none when the
// machine was ready (a rerun). Errors name the node and the step.
func Prepare(ctx context.Context, r steps.Runner, s Setup) ([]string, error) {
	osRelease, err := r.Run(ctx, "cat /etc/os-release")
	if err != nil {
		return nil, fmt.Errorf("machine %s: check the OS: %w", s.Node, err)
	}
	if err := supportedOS(s.Node, osRelease); err != nil {
		return nil, err
	}
	m, err := login(ctx, r, s.Node)
	if err != nil {
		return nil, err
	}
	if m.rec, err = m.readRecord(ctx); err != nil {
		return nil, err
	}
	keys := map[string]string{plan.SSHUser: s.StudentKey, plan.AdminUser: s.AdminKey}
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"record the node", func(ctx context.Context) error {
			m.rec.node = strings.Join([]string{s.Cohort, s.Team, s.Node}, " ")
			return m.saveRecord(ctx)
		}},
		{"install packages", m.installPackages},
		{"start dockerd", m.startDocker},
		{"accounts", func(ctx context.Context) error { return m.ensureAccounts(ctx, keys) }},
	} {
		if err := step.run(ctx); err != nil {
			return m.changes.List(), fmt.Errorf("machine %s: %s: %w", s.Node, step.name, err)
		}
	}
	return m.changes.List(), nil
}

// Teardown removes, through the machine's admin user, what labfleet added, and leaves the
// machine reusable: it leaves the swarm (`docker swarm leave --force`, which also stops the
// stack's tasks), deletes the kind clusters and labfleet's tools (Tools), removes the lab
// images labfleet loaded (memory-leak-app, improved-app, kindest/node; best effort: an image
// a container still uses stays), deletes the accounts labfleet created (their processes
// first, then `userdel -r`) and its sudoers files, takes labfleet's key line out of accounts
// that were there before it, and removes RecordDir.
//
// It does not uninstall packages: Docker stays installed and running, as do the student
// tools (RecordPath listed those labfleet installed; `apt-get remove` them by hand if wanted),
// and containers that students started with `docker run` stay too.
// On a machine without RecordPath (never prepared, or already torn down) it does nothing.
// It returns the actions it took.
func Teardown(ctx context.Context, r steps.Runner, node string) ([]string, error) {
	m, err := login(ctx, r, node)
	if err != nil {
		return nil, err
	}
	if m.rec, err = m.readRecord(ctx); err != nil {
		return nil, err
	}
	if m.rec.empty() {
		return nil, nil
	}
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"leave the swarm", m.leaveSwarm},
		{"delete kind clusters", m.deleteKindClusters},
		{"remove tools", m.removeTools},
		{"remove lab images", m.removeLabImages},
		{"remove accounts", m.removeAccounts},
		{"remove " + RecordDir, m.removeRecord},
	} {
		if err := step.run(ctx); err != nil {
			return m.changes.List(), fmt.Errorf("machine %s: teardown: %s: %w", node, step.name, err)
		}
	}
	return m.changes.List(), nil
}

// machine is one machine reached as its admin user.
type machine struct {
	r       steps.Runner
	node    string
	sudo    string // "sudo -n " when the admin user is not root, else ""
	rec     record
	saved   string // the record as it is on the machine
	changes steps.Changes
}

// login finds out whether the admin user is root or may use sudo without a password: every
// later command that needs root goes through m.root or m.script.
func login(ctx context.Context, r steps.Runner, node string) (*machine, error) {
	m := &machine{r: r, node: node}
	uid, err := r.Run(ctx, "id -u")
	if err != nil {
		return nil, fmt.Errorf("machine %s: who is the admin user: %w", node, err)
	}
	if uid = strings.TrimSpace(uid); uid == "0" {
		return m, nil
	}
	if _, err := r.Run(ctx, "sudo -n true"); err != nil {
		return nil, fmt.Errorf("machine %s: the admin user (uid %s) is not root and cannot use sudo without a password: "+
			"log in as root, or give that user passwordless sudo (`USER ALL=(ALL) NOPASSWD:ALL` in /etc/sudoers.d/): %w", node, uid, err)
	}
	m.sudo = "sudo -n "
	return m, nil
}

// root is cmd as root: through sudo -n unless the admin user is root.
func (m *machine) root(cmd string) string { return m.sudo + cmd }

// script runs body as root with sh, its arguments after the step name: the command line
// (and so an error) says which step and with what, while the script itself goes on stdin.
// The body is wrapped in a function so sh has read all of it before anything runs, and
// runs with stdin from /dev/null, so a command in it (apt, dpkg) cannot eat the script.
func (m *machine) script(ctx context.Context, step, body string, args ...string) (string, error) {
	cmd := m.root("sh -s -- " + step)
	for _, a := range args {
		cmd += " " + remote.Quote(a)
	}
	wrapped := "set -eu\nshift\nmain() {\n" + body + "\n}\nmain \"$@\" </dev/null\n"
	return m.r.RunWithInput(ctx, cmd, strings.NewReader(wrapped))
}

// readFile is the content of a file readable by root, "" when it does not exist.
func (m *machine) readFile(ctx context.Context, p string) (string, error) {
	return m.r.Run(ctx, m.root("cat "+remote.Quote(p)+" 2>/dev/null || true"))
}

// writeFile puts content at p, owned by owner (AsRoot or an account, its login group too)
// with mode, unless it is already there; dirMode is the mode of p's directory when it is
// created or given to owner (~/.ssh: 0700). remote.WriteFile says how.
func (m *machine) writeFile(ctx context.Context, p, content, mode, owner, dirMode string) (bool, error) {
	return remote.WriteFile(ctx, m.r, remote.File{
		Path: p, Content: strings.NewReader(content), Mode: mode, Owner: owner, DirMode: dirMode, LoginIsRoot: m.sudo == "",
	})
}

// supportedOS accepts Debian, Ubuntu and their derivatives (ID_LIKE), which have apt and
// the packages labfleet installs.
func supportedOS(node, osRelease string) error {
	f := map[string]string{}
	for _, line := range strings.Split(osRelease, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			f[k] = strings.Trim(v, `"'`)
		}
	}
	for _, id := range append([]string{f["ID"]}, strings.Fields(f["ID_LIKE"])...) {
		if id == "debian" || id == "ubuntu" {
			return nil
		}
	}
	name := f["PRETTY_NAME"]
	if name == "" {
		name = "an unknown OS"
	}
	return fmt.Errorf("machine %s: check the OS: it runs %s (/etc/os-release ID=%q ID_LIKE=%q): labfleet supports Debian and Ubuntu (and derivatives of them), "+
		"whose apt installs Docker and the student tools; use a Debian or Ubuntu machine for this node", node, name, f["ID"], f["ID_LIKE"])
}

const checkPackagesScript = `# Every package's state, name and what it provides (dnsutils is only provided, by
# bind9-dnsutils, on Debian 13), and which Docker commands exist.
dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n'
for c in docker dockerd; do
  if command -v "$c" >/dev/null; then echo "command $c"; fi
done`

// optional marks a package installed only where the distribution has it.
const optional = "?"

const installPackagesScript = `# Install the packages (a trailing ? marks one installed only where the archive has it);
# apt's output goes to stderr, which an error shows; stdout says what was installed. apt
# waits up to 5 minutes for the dpkg lock (unattended-upgrades on a VM that just booted).
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -q -o DPkg::Lock::Timeout=300"
$apt update >&2
pkgs=
for p in "$@"; do
  case $p in
  *'?')
    p=${p%'?'}
    if ! apt-cache show "$p" >/dev/null 2>&1; then echo "unavailable $p"; continue; fi ;;
  esac
  pkgs="$pkgs $p"
done
$apt install -y --no-install-recommends $pkgs >&2
echo "installed$pkgs"`

// missingPackages is what to install, given what dpkg-query and command -v found: the
// packages that no installed package is, or provides. docker.io is left out where another
// dockerd is installed (Docker CE: apt would remove docker-ce to put docker.io in its place),
// docker-cli where a docker command exists (docker.io carries it where the distribution
// does not split it out), and docker-cli is marked optional.
func missingPackages(check string) []string {
	installed, commands := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(check, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "command":
			commands[f[1]] = true
		case len(f) >= 2 && len(f[0]) >= 2 && f[0][1] == 'i': // Status-Abbrev "ii": installed
			installed[f[1]] = true
			// Provides: "dnsutils (= 1:9.20.15-1), host"
			for _, p := range strings.Split(strings.Join(f[2:], " "), ",") {
				if name := strings.Fields(p); len(name) > 0 {
					installed[name[0]] = true
				}
			}
		}
	}
	var missing []string
	for _, p := range Packages {
		switch {
		case installed[p]:
		case p == "docker.io" && commands["dockerd"]:
		case p == "docker-cli" && commands["docker"]:
		case p == "docker-cli":
			missing = append(missing, p+optional)
		default:
			missing = append(missing, p)
		}
	}
	return missing
}

func (m *machine) installPackages(ctx context.Context) error {
	check, err := m.script(ctx, "check-packages", checkPackagesScript)
	if err != nil {
		return err
	}
	missing := missingPackages(check)
	if len(missing) == 0 {
		return nil
	}
	out, err := m.script(ctx, "install-packages", installPackagesScript, missing...)
	if err != nil {
		return err
	}
	var installed, unavailable []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "installed":
			installed = f[1:]
		case len(f) == 2 && f[0] == "unavailable":
			unavailable = append(unavailable, f[1])
		}
	}
	m.rec.add(&m.rec.packages, installed...)
	if err := m.saveRecord(ctx); err != nil {
		return err
	}
	if len(installed) > 0 {
		did := fmt.Sprintf("install %s on %s", strings.Join(installed, ", "), m.node)
		if len(unavailable) > 0 {
			did += fmt.Sprintf(" (not in its archive: %s)", strings.Join(unavailable, ", "))
		}
		m.changes.Did("%s", did)
	}
	return nil
}

const checkDockerScript = `# Does dockerd answer, does systemd run this machine (sd_booted), is docker.service enabled,
# does a dockerd run (still starting)?
if docker info >/dev/null 2>&1; then echo answers; fi
if [ -d /run/systemd/system ]; then
  echo systemd
  if systemctl is-enabled --quiet docker 2>/dev/null; then echo enabled; fi
fi
if pgrep -x dockerd >/dev/null; then echo running; fi`

const startDockerdScript = `# No systemd to run it: start dockerd in a session of its own so that it outlives this SSH
# session, its output in a log. It does not come back after a reboot; Prepare starts it again.
setsid nohup dockerd >>` + DockerdLog + ` 2>&1 </dev/null &`

func (m *machine) startDocker(ctx context.Context) error {
	out, err := m.script(ctx, "check-docker", checkDockerScript)
	if err != nil {
		return err
	}
	has := func(w string) bool { return slices.Contains(strings.Fields(out), w) }
	logCmd := m.root("tail -n 20 " + DockerdLog)
	switch {
	case has("systemd"):
		logCmd = m.root("journalctl -u docker -n 20 --no-pager")
		if has("answers") && has("enabled") {
			return nil
		}
		if _, err := m.r.Run(ctx, m.root("systemctl enable --now docker")); err != nil {
			return err
		}
		m.changes.Did("enable and start docker.service (systemctl enable --now docker) on %s", m.node)
	case has("answers"):
		return nil
	case has("running"): // started a moment ago (by apt's init script, or an earlier run): wait
	default:
		if _, err := m.script(ctx, "start-dockerd", startDockerdScript); err != nil {
			return err
		}
		m.changes.Did("start dockerd in the background on %s (no systemd there; log %s; not restarted after a reboot)", m.node, DockerdLog)
	}
	err = steps.Poll(ctx, "wait for `docker info`", DockerWait, time.Second, func(ctx context.Context) (bool, error) {
		_, err := m.r.Run(ctx, m.root("docker info --format '{{.ServerVersion}}'"))
		return err == nil, err
	})
	if err != nil {
		log, _ := m.r.Run(ctx, logCmd+" 2>&1 || true")
		return fmt.Errorf("%w; dockerd's last log lines:\n%s", err, log)
	}
	return nil
}

const checkAccountsScript = `# Each account that exists: its name, home and groups.
for u in "$@"; do
  if entry=$(getent passwd "$u"); then
    echo "account $u $(echo "$entry" | cut -d: -f6) $(id -nG "$u" | tr ' ' ,)"
  fi
done`

// present is an account the machine has.
type present struct {
	home   string
	groups []string
}

func parseAccounts(out string) map[string]present {
	have := map[string]present{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "account" {
			have[f[1]] = present{home: f[2], groups: strings.Split(f[3], ",")}
		}
	}
	return have
}

func (m *machine) ensureAccounts(ctx context.Context, keys map[string]string) error {
	users := make([]string, len(accounts))
	for i, a := range accounts {
		users[i] = a.user
	}
	out, err := m.script(ctx, "check-accounts", checkAccountsScript, users...)
	if err != nil {
		return err
	}
	have := parseAccounts(out)
	for _, a := range accounts {
		p, ok := have[a.user]
		if !ok {
			// Recorded first: an account labfleet created is labfleet's to delete, even if
			// this run stops right after creating it.
			m.rec.add(&m.rec.accounts, a.user)
			if err := m.saveRecord(ctx); err != nil {
				return err
			}
			// The home is where the bootstrap puts the student's files (plan.StudentHome).
			p = present{home: "/home/" + a.user, groups: a.groups}
			if _, err := m.r.Run(ctx, m.root("useradd --create-home --home-dir "+p.home+" --shell /bin/bash --groups "+strings.Join(a.groups, ",")+" "+a.user)); err != nil {
				return err
			}
			m.changes.Did("create account %s on %s", a.user, m.node)
		} else if lacking := without(a.groups, p.groups); len(lacking) > 0 {
			// Recorded first, as an account is: the teardown takes back exactly these.
			m.rec.addGroups(a.user, lacking...)
			if err := m.saveRecord(ctx); err != nil {
				return err
			}
			if _, err := m.r.Run(ctx, m.root("usermod -a -G "+strings.Join(lacking, ",")+" "+a.user)); err != nil {
				return err
			}
			m.changes.Did("add account %s to group %s on %s", a.user, strings.Join(lacking, ", "), m.node)
		}
		m.rec.add(&m.rec.files, a.sudoers)
		if err := m.saveRecord(ctx); err != nil {
			return err
		}
		wrote, err := m.writeFile(ctx, a.sudoers, a.user+" ALL=(ALL) NOPASSWD:ALL\n", "0440", remote.AsRoot, "0755")
		if err != nil {
			return err
		}
		if wrote {
			m.changes.Did("allow %s sudo without a password (%s) on %s", a.user, a.sudoers, m.node)
		}
		if err := m.ensureKey(ctx, a.user, p.home, keys[a.user]); err != nil {
			return err
		}
	}
	return nil
}

// ensureKey puts labfleet's key line for user in its authorized_keys, in place of the line
// labfleet put there before (a new key seed), keeping every other line.
func (m *machine) ensureKey(ctx context.Context, user, home, key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return fmt.Errorf("no key given for %s", user)
	}
	file := home + "/.ssh/authorized_keys"
	have, err := m.readFile(ctx, file)
	if err != nil {
		return err
	}
	want := withKey(have, key, m.rec.keys[user])
	m.rec.setKey(user, key)
	if err := m.saveRecord(ctx); err != nil {
		return err
	}
	if want == have {
		return nil
	}
	if _, err := m.writeFile(ctx, file, want, "0600", user, "0700"); err != nil {
		return err
	}
	m.changes.Did("put labfleet's key for %s in %s on %s", user, file, m.node)
	return nil
}

// withKey is an authorized_keys file with key in it once, without old (labfleet's earlier
// key, after a new key seed), every other line kept in its place.
func withKey(file, key, old string) string {
	var b strings.Builder
	found := false
	for _, l := range strings.SplitAfter(file, "\n") {
		switch t := strings.TrimSpace(l); {
		case l == "": // after the last newline
			continue
		case t == key && found:
			continue
		case t == key:
			found = true
		case t == old:
			continue
		}
		b.WriteString(strings.TrimSuffix(l, "\n") + "\n")
	}
	if !found {
		b.WriteString(key + "\n")
	}
	return b.String()
}

// withoutKey is an authorized_keys file without the line key.
func withoutKey(file, key string) string {
	var lines []string
	for _, l := range strings.SplitAfter(file, "\n") {
		if strings.TrimSpace(l) != key {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "")
}

// without is want minus have.
func without(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// record is what labfleet added to a machine, in RecordPath, one "kind value" per line.
// Packages are listed for the instructor (Teardown keeps them); accounts and files are
// deleted by Teardown; a key line is taken out of an account labfleet did not create, and
// so are the groups labfleet added to it (a student account of the machine's own goes back
// to what it was, not left in sudo and docker).
type record struct {
	node                      string // "cohort team node": which node of which cohort the machine is
	packages, accounts, files []string
	keys                      map[string]string   // user -> labfleet's authorized_keys line
	groups                    map[string][]string // user -> groups labfleet added to that account
}

// ParseRecordedNode reads a record's node line ("cohort team node", as machineScript prints
// it without its kind); nil for anything else ("-": no record).
func ParseRecordedNode(line string) *plan.RecordedNode {
	f := strings.Fields(line)
	if len(f) != 3 {
		return nil
	}
	return &plan.RecordedNode{Cohort: f[0], Team: f[1], Node: f[2]}
}

const recordHeader = "# What labfleet added to this machine. Its teardown deletes the accounts and files and\n" +
	"# takes the key lines out; the packages stay installed (apt-get remove them by hand if wanted).\n"

func parseRecord(s string) record {
	r := record{keys: map[string]string{}}
	for _, line := range strings.Split(s, "\n") {
		kind, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch kind {
		case "node":
			r.node = value
		case "package":
			r.add(&r.packages, value)
		case "account":
			r.add(&r.accounts, value)
		case "file":
			r.add(&r.files, value)
		case "key":
			user, key, _ := strings.Cut(value, " ")
			r.setKey(user, key)
		case "group":
			user, group, _ := strings.Cut(value, " ")
			r.addGroups(user, group)
		}
	}
	return r
}

func (r *record) add(list *[]string, values ...string) {
	for _, v := range values {
		if v != "" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
}

func (r *record) addGroups(user string, groups ...string) {
	if r.groups == nil {
		r.groups = map[string][]string{}
	}
	list := r.groups[user]
	r.add(&list, groups...)
	r.groups[user] = list
}

func (r *record) setKey(user, key string) {
	if r.keys == nil {
		r.keys = map[string]string{}
	}
	r.keys[user] = key
}

func (r record) empty() bool {
	return r.node == "" && len(r.packages)+len(r.accounts)+len(r.files)+len(r.keys)+len(r.groups) == 0
}

func (r record) String() string {
	if r.empty() {
		return ""
	}
	var b strings.Builder
	b.WriteString(recordHeader)
	if r.node != "" {
		fmt.Fprintf(&b, "node %s\n", r.node)
	}
	for _, l := range []struct {
		kind   string
		values []string
	}{{"package", r.packages}, {"account", r.accounts}, {"file", r.files}} {
		for _, v := range l.values {
			fmt.Fprintf(&b, "%s %s\n", l.kind, v)
		}
	}
	users := make([]string, 0, len(r.keys))
	for u := range r.keys {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		fmt.Fprintf(&b, "key %s %s\n", u, r.keys[u])
	}
	for _, u := range slices.Sorted(maps.Keys(r.groups)) {
		for _, g := range r.groups[u] {
			fmt.Fprintf(&b, "group %s %s\n", u, g)
		}
	}
	return b.String()
}

func (m *machine) readRecord(ctx context.Context) (record, error) {
	s, err := m.readFile(ctx, RecordPath)
	if err != nil {
		return record{}, fmt.Errorf("machine %s: read %s: %w", m.node, RecordPath, err)
	}
	m.saved = s
	return parseRecord(s), nil
}

// saveRecord writes the record when it changed.
func (m *machine) saveRecord(ctx context.Context) error {
	s := m.rec.String()
	if s == m.saved {
		return nil
	}
	if _, err := m.writeFile(ctx, RecordPath, s, "0644", remote.AsRoot, "0755"); err != nil {
		return fmt.Errorf("record what labfleet added in %s: %w", RecordPath, err)
	}
	m.saved = s
	return nil
}

func (m *machine) leaveSwarm(ctx context.Context) error {
	state, err := m.r.Run(ctx, m.root("docker info --format '{{.Swarm.LocalNodeState}}'"))
	if err != nil {
		return fmt.Errorf("dockerd does not answer, so the machine cannot leave its swarm: start it (systemctl start docker, or dockerd) and run the teardown again: %w", err)
	}
	if s := strings.TrimSpace(state); s == "inactive" || s == "" {
		return nil
	}
	if _, err := m.r.Run(ctx, m.root("docker swarm leave --force")); err != nil {
		return err
	}
	// dockerd removes the swarm's task containers and networks after `leave` returns: wait
	// for that, and remove the gateway bridge swarm made, so that a swarm made next on this
	// machine (the course again) does not meet the old one's leftovers.
	if _, err := m.script(ctx, "clean-after-swarm", cleanAfterSwarmScript); err != nil {
		return err
	}
	m.changes.Did("leave the swarm on %s", m.node)
	// `leave` also leaves the overlay networks' namespaces (/var/run/docker/netns) behind,
	// and a swarm made next on the machine then has a broken overlay (seen: the next
	// course's edge proxies never reached the web tasks). With dockerd stopped they go.
	if _, err := m.script(ctx, "stop-dockerd", stopDockerdScript); err != nil {
		return err
	}
	// Started the way Prepare starts it; its own messages are not the teardown's.
	restart := &machine{r: m.r, node: m.node, sudo: m.sudo}
	if err := restart.startDocker(ctx); err != nil {
		return err
	}
	m.changes.Did("restart dockerd on %s to clear the swarm's network namespaces", m.node)
	return nil
}

// stopDockerdScript stops dockerd (through systemd where it runs it, else with SIGTERM to the
// one labfleet started, waiting up to 30 s), then removes the namespaces of the overlay
// networks the swarm left: dockerd does not remove them itself, even when it restarts.
const stopDockerdScript = `if [ -d /run/systemd/system ] && systemctl is-active -q docker; then
  systemctl stop docker.socket docker 2>/dev/null || systemctl stop docker
else
  pid=$(pidof dockerd || true)
  if [ -n "$pid" ]; then
    kill -TERM $pid
    for i in $(seq 30); do pidof dockerd >/dev/null || break; sleep 1; done
    if pidof dockerd >/dev/null; then echo "dockerd did not stop in 30 s" >&2; exit 1; fi
  fi
fi
for ns in /var/run/docker/netns/1-* /var/run/docker/netns/lb_* /var/run/docker/netns/ingress_sbox; do
  [ -e "$ns" ] || continue
  umount "$ns" 2>/dev/null || true
  rm -f "$ns"
done`

const cleanAfterSwarmScript = `for i in $(seq 30); do
  [ -z "$(docker ps -aq --filter label=com.docker.swarm.service.id)" ] && break
  sleep 1
done
docker ps -aq --filter label=com.docker.swarm.service.id | xargs -r docker rm -f >/dev/null
docker network rm docker_gwbridge >/dev/null 2>&1 || true`

func (m *machine) deleteKindClusters(ctx context.Context) error {
	const kind = "/usr/local/bin/kind"
	out, err := m.r.Run(ctx, m.root("sh -c 'if [ -x "+kind+" ]; then "+kind+" get clusters 2>/dev/null; fi'"))
	if err != nil {
		return err
	}
	for _, c := range strings.Fields(out) {
		if _, err := m.r.Run(ctx, m.root(kind+" delete cluster --name "+remote.Quote(c))); err != nil {
			return err
		}
		m.changes.Did("delete kind cluster %s on %s", c, m.node)
	}
	return nil
}

const removeFilesScript = `# Remove the files that exist, and say which.
for f in "$@"; do
  if [ -e "$f" ]; then rm -f "$f"; echo "$f"; fi
done`

func (m *machine) removeTools(ctx context.Context) error {
	out, err := m.script(ctx, "remove-tools", removeFilesScript, Tools...)
	if err != nil {
		return err
	}
	if removed := strings.Fields(out); len(removed) > 0 {
		m.changes.Did("remove %s on %s", strings.Join(removed, ", "), m.node)
	}
	return nil
}

// labImageRepos are the repositories of the images labfleet loads into nodes.
func labImageRepos() []string {
	repos := []string{"kindest/node"}
	for _, i := range day2.Images {
		repos = append(repos, i.Name)
	}
	return repos
}

const removeImagesScript = `# Remove the images of these repositories, whatever their tags; best effort: an image that a
# container still uses stays. Say which were removed.
for repo in "$@"; do
  for ref in $(docker images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    if docker rmi "$ref" >/dev/null 2>&1; then echo "$ref"; fi
  done
done`

func (m *machine) removeLabImages(ctx context.Context) error {
	out, err := m.script(ctx, "remove-images", removeImagesScript, labImageRepos()...)
	if err != nil {
		return err
	}
	if removed := strings.Fields(out); len(removed) > 0 {
		m.changes.Did("remove images %s on %s", strings.Join(removed, ", "), m.node)
	}
	return nil
}

const deleteAccountScript = `# Delete the account and its home. userdel refuses a user who still has processes (a
# student's login, a shell left in tmux): kill them first, and wait until they are gone.
u=$1
pkill -KILL -u "$u" || true
i=0
while pgrep -u "$u" >/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then echo "processes of $u survive SIGKILL: $(pgrep -u "$u" | tr '\n' ' ')" >&2; exit 1; fi
  sleep 0.2
done
# Its warning about a missing mail spool is noise; a failure shows all it said.
if ! out=$(userdel -r "$u" 2>&1); then echo "$out" >&2; exit 1; fi`

func (m *machine) removeAccounts(ctx context.Context) error {
	var users []string
	m.rec.add(&users, slices.Concat(m.rec.accounts, keyUsers(m.rec), slices.Sorted(maps.Keys(m.rec.groups)))...)
	out, err := m.script(ctx, "check-accounts", checkAccountsScript, users...)
	if err != nil {
		return err
	}
	have := parseAccounts(out)
	for _, u := range m.rec.accounts {
		if _, ok := have[u]; !ok {
			continue
		}
		if _, err := m.script(ctx, "delete-account", deleteAccountScript, u); err != nil {
			return err
		}
		m.changes.Did("delete account %s and its home on %s", u, m.node)
	}
	// Accounts that were there before labfleet stay: labfleet's key line and the groups it
	// added leave them.
	for _, u := range slices.Sorted(maps.Keys(m.rec.groups)) {
		p, ok := have[u]
		if !ok || slices.Contains(m.rec.accounts, u) {
			continue
		}
		var back []string
		for _, g := range m.rec.groups[u] {
			if !slices.Contains(p.groups, g) {
				continue
			}
			// "is not a member": g has become the account's primary group since, which
			// gpasswd cannot take away; the teardown carries on rather than fail every run.
			if _, err := m.r.Run(ctx, m.root("gpasswd --delete "+u+" "+g+" >/dev/null")); err != nil && !strings.Contains(err.Error(), "is not a member") {
				return err
			}
			back = append(back, g)
		}
		if len(back) > 0 {
			m.changes.Did("take account %s out of group %s, which labfleet added (the account was there before labfleet) on %s", u, strings.Join(back, ", "), m.node)
		}
	}
	for _, u := range keyUsers(m.rec) {
		p, ok := have[u]
		if !ok || slices.Contains(m.rec.accounts, u) {
			continue
		}
		file := p.home + "/.ssh/authorized_keys"
		cur, err := m.readFile(ctx, file)
		if err != nil {
			return err
		}
		if want := withoutKey(cur, m.rec.keys[u]); want != cur {
			if _, err := m.writeFile(ctx, file, want, "0600", u, "0700"); err != nil {
				return err
			}
			m.changes.Did("take labfleet's key out of %s (the account was there before labfleet) on %s", file, m.node)
		}
	}
	out, err = m.script(ctx, "remove-files", removeFilesScript, m.rec.files...)
	if err != nil {
		return err
	}
	if removed := strings.Fields(out); len(removed) > 0 {
		m.changes.Did("remove %s on %s", strings.Join(removed, ", "), m.node)
	}
	return nil
}

func keyUsers(r record) []string {
	users := make([]string, 0, len(r.keys))
	for u := range r.keys {
		users = append(users, u)
	}
	slices.Sort(users)
	return users
}

func (m *machine) removeRecord(ctx context.Context) error {
	if _, err := m.r.Run(ctx, m.root("rm -rf "+RecordDir)); err != nil {
		return err
	}
	m.changes.Did("remove %s on %s", RecordDir, m.node)
	return nil
}
