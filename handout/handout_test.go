package handout

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/outputs"
)

func sample() outputs.Outputs {
	return outputs.Outputs{
		Teams: map[string]outputs.Team{
			"red": {
				SSHUser: "student", Network: "172.30.0.0/24", RoutingMesh: "host",
				AppURLs: []string{"http://172.30.0.10:8090/"},
				Kind:    map[string]string{"state": "running", "cluster": "red", "hostNode": "red-m1", "apiServer": "https://172.30.0.10:6443"},
				Nodes: []outputs.Node{
					{Name: "red-m1", Role: "manager", IP: "172.30.0.10", SSH: "lab.example.org:2200", KnownHost: "[lab.example.org]:2200 ssh-ed25519 AAAA1"},
					{Name: "red-w1", Role: "worker", IP: "172.30.0.11", SSH: "lab.example.org:2201", KnownHost: "[lab.example.org]:2201 ssh-ed25519 AAAA2"},
				},
			},
		},
		StudentKeys: map[string]string{"red": "-----BEGIN OPENSSH PRIVATE KEY-----\n..."},
		Kubeconfigs: map[string]string{"red": "apiVersion: v1"},
	}
}

func TestFilesForATeam(t *testing.T) {
	files, err := Files(sample())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 || files["red.html"] == "" || files[AllTeamsFile] == "" {
		t.Errorf("files: %v", keys(files))
	}
	if want := "Host red-m1\n  Port 2200\nHost red-w1\n  Port 2201\n\nHost red-m1 red-w1\n  HostName lab.example.org\n  User student\n  IdentityFile red.key\n" +
		"  IdentitiesOnly yes\n  UserKnownHostsFile red.known_hosts\n  StrictHostKeyChecking yes\n"; files["red.ssh_config"] != want {
		t.Errorf("ssh_config:\n%s\nwant:\n%s", files["red.ssh_config"], want)
	}
	if files["red.known_hosts"] != "[lab.example.org]:2200 ssh-ed25519 AAAA1\n[lab.example.org]:2201 ssh-ed25519 AAAA2\n" {
		t.Errorf("known_hosts:\n%s", files["red.known_hosts"])
	}
	card := files["red.md"]
	for _, want := range []string{"# Team red", "ssh -F red.ssh_config red-m1", "| red-w1 | worker | 172.30.0.11 | `ssh -i red.key -p 2201 student@lab.example.org` |",
		"curl http://172.30.0.10:8090/", "cluster `red` runs on red-m1"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if files["red.key"] != sample().StudentKeys["red"] || files["red.kubeconfig"] != "apiVersion: v1" {
		t.Error("key or kubeconfig not passed through")
	}
}

// OpenSSH itself reads the ssh_config: every node resolves to its own port and the shared
// settings (ssh -G prints the configuration it would use, without connecting).
func TestOpenSSHResolvesEveryNodeFromTheSSHConfig(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("NOT RUN (not a pass): no OpenSSH client on this machine (apt-get install openssh-client)")
	}
	files, err := Files(sample())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	for node, port := range map[string]string{"red-m1": "2200", "red-w1": "2201"} {
		cmd := exec.Command("ssh", "-G", "-F", "red.ssh_config", node)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ssh -G %s: %v", node, err)
		}
		for _, want := range []string{"hostname lab.example.org", "port " + port, "user student", "identityfile red.key",
			"identitiesonly yes", "userknownhostsfile red.known_hosts", "stricthostkeychecking true"} {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(out) {
				t.Errorf("ssh -G %s lacks %q:\n%s", node, want, out)
			}
		}
	}
}

func TestMissingKeyIsExplained(t *testing.T) {
	o := sample()
	delete(o.StudentKeys, "red")
	if _, err := Files(o); err == nil || !strings.Contains(err.Error(), "--show-secrets") {
		t.Errorf("err = %v", err)
	}
}

func TestInconsistentNodesAreExplained(t *testing.T) {
	for want, edit := range map[string]func(*outputs.Team){
		"team red has no nodes in the teams output: run `pulumi up` first":                     func(t *outputs.Team) { t.Nodes = nil },
		`team red node red-w1: ssh "lab2.example.org": address lab2.example.org: missing port`: func(t *outputs.Team) { t.Nodes[1].SSH = "lab2.example.org" },
	} {
		o := sample()
		red := o.Teams["red"]
		edit(&red)
		o.Teams["red"] = red
		if _, err := Files(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// A team on existing machines: each node has its own address, and a machine whose host key
// the instructor did not give is not pinned on the card.
func TestATeamOnMachinesGetsAHostNamePerNode(t *testing.T) {
	o := sample()
	red := o.Teams["red"]
	red.Nodes[0].SSH, red.Nodes[1].SSH = "10.0.0.11:22", "10.0.0.12:22"
	red.Nodes[1].KnownHost = ""
	red.Host, red.Network = outputs.MachinesHost, ""
	o.Teams["red"] = red
	files, err := Files(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := files["red.ssh_config"]
	for _, want := range []string{"Host red-m1\n  HostName 10.0.0.11\n  Port 22\n", "Host red-w1\n  HostName 10.0.0.12\n  Port 22\n", "StrictHostKeyChecking accept-new"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("ssh_config lacks %q:\n%s", want, cfg)
		}
	}
	if !strings.Contains(files["red.md"], "Some machines' keys are not in it yet") || strings.Contains(files["red.md"], "team network") {
		t.Errorf("card:\n%s", files["red.md"])
	}
	if strings.Count(files["red.known_hosts"], "\n") != len(red.Nodes)-1 {
		t.Errorf("known_hosts has a line for the unpinned machine:\n%s", files["red.known_hosts"])
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWriteMakesEveryFileOwnerOnlyEvenIfItExisted(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "team1.key")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, map[string]string{"team1.key": "KEY", "team1.md": "# card"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"team1.key", "team1.md"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, info.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(old); string(b) != "KEY" {
		t.Errorf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}

// A team without nodes (its last run failed) has no port to order by: it comes first, and
// teams on the same port fall back to their names, so the order never depends on map order.
func TestTeamNamesWithoutPorts(t *testing.T) {
	o := outputs.Outputs{Teams: map[string]outputs.Team{
		"b":      {Nodes: []outputs.Node{{SSH: "lab:2200"}}},
		"a":      {Nodes: []outputs.Node{{SSH: "lab:2210"}}},
		"failed": {},
		"c":      {Nodes: []outputs.Node{{SSH: "lab:2210"}}},
	}}
	if got, want := o.TeamNames(), []string{"failed", "b", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("TeamNames() = %v, want %v", got, want)
	}
}
