package machines

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// An existing machine becomes a node like the node image's containers: the same student
// tools, the same two accounts in the same groups with the same sudo. The image's Dockerfile
// and accounts script say it once for containers, Packages and accounts once for machines;
// this holds the two together.
func TestMachinesGetWhatTheNodeImageHas(t *testing.T) {
	dockerfile, err := os.ReadFile("../../infra/nodeimage/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The packages of the image's `apt-get install ... \` line and its continuation lines.
	var imagePackages []string
	installing := false
	for _, line := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(line)
		if slices.Contains(f, "install") && slices.Contains(f, "apt-get") {
			installing = true
			f = f[slices.Index(f, "install")+1:]
		} else if !installing {
			continue
		}
		for _, w := range f {
			if w == "&&" {
				installing = false
				break
			}
			if !strings.HasPrefix(w, "-") && w != `\` {
				imagePackages = append(imagePackages, w)
			}
		}
	}
	// The machine answers SSH with its own sshd already.
	want := slices.DeleteFunc(slices.Clone(imagePackages), func(p string) bool { return p == "openssh-server" })
	if len(want) < 10 || !slices.Equal(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(Packages))) {
		t.Errorf("the node image installs %q (openssh-server aside), machines get Packages %q", want, Packages)
	}

	script, err := os.ReadFile("../../infra/nodeimage/labfleet-accounts")
	if err != nil {
		t.Fatal(err)
	}
	imageAccounts := map[string][]string{}
	sudo := map[string]bool{}
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "useradd":
			user := f[len(f)-1]
			if i := slices.Index(f, "--groups"); i > 0 {
				imageAccounts[user] = strings.Split(f[i+1], ",")
			}
		case strings.Contains(line, "ALL=(ALL) NOPASSWD:ALL"):
			sudo[strings.Trim(f[1], "'")] = true
		}
	}
	if len(imageAccounts) != len(accounts) {
		t.Errorf("the node image makes accounts %v, machines get %d", imageAccounts, len(accounts))
	}
	for _, a := range accounts {
		if groups, ok := imageAccounts[a.user]; !ok || !slices.Equal(groups, a.groups) {
			t.Errorf("account %s: groups %q on machines, %q in the node image", a.user, a.groups, groups)
		}
		if !sudo[a.user] {
			t.Errorf("account %s: passwordless sudo on machines, not in the node image", a.user)
		}
	}
}
