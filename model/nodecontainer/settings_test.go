package nodecontainer

import (
	"maps"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/bootstrap/images"
)

func TestSettingsReadBackFromDockerInspect(t *testing.T) {
	spec := Spec{
		Hostname: "team1-w1", Network: "spring-team1", IP: "172.30.0.11", PublishIP: "127.0.0.1", PublishPort: 2201,
		CPUs: "0.5", StopGrace: 20,
		Mounts:  []Mount{{"spring-team1-w1-docker", "/var/lib/docker"}, {"spring-team1-w1-home", "/home/student"}},
		Devices: []string{"/dev/net/tun"},
		Env:     map[string]string{"LABFLEET_VM_CPUS": "1"},
		Tmpfs:   map[string]string{"/run": "rw,exec,nosuid,nodev,size=64m"},
		Labels:  map[string]string{"labfleet.cohort": "spring", "labfleet.node": "team1-w1"},
	}
	// As Docker 20.10 and 26 report such a container: the image's own environment and labels
	// are there too (labfleet's node image labels itself for make clean-images), and are not
	// the spec's.
	inspect := `{"Name":"/spring-team1-w1",
	  "Config":{"Hostname":"team1-w1","Env":["PATH=/usr/bin","LABFLEET_VM_CPUS=1"],"StopTimeout":20,
	    "Labels":{"labfleet.cohort":"spring","labfleet.node":"team1-w1","org.opencontainers.image.title":"x","` + images.BuiltLabel + `":"node"}},
	  "HostConfig":{"NanoCpus":500000000,"Privileged":false,"Tmpfs":{"/run":"rw,exec,nosuid,nodev,size=64m"},
	    "Mounts":[{"Type":"volume","Source":"spring-team1-w1-docker","Target":"/var/lib/docker"},{"Type":"volume","Source":"spring-team1-w1-home","Target":"/home/student"}],
	    "Devices":[{"PathOnHost":"/dev/net/tun","PathInContainer":"/dev/net/tun","CgroupPermissions":"rwm"}],
	    "PortBindings":{"22/tcp":[{"HostIp":"127.0.0.1","HostPort":"2201"}]}},
	  "NetworkSettings":{"Networks":{"spring-team1":{"IPAMConfig":{"IPv4Address":"172.30.0.11"}}}}}`
	got, err := SettingsFromInspect([]byte(inspect))
	if err != nil {
		t.Fatal(err)
	}
	if want := spec.Settings(); !maps.Equal(got, want) {
		t.Errorf("read back:\n%v\nwant:\n%v\nchanges: %v", got, want, Changes(got, want))
	}
}

func TestChangesSayWhatDiffers(t *testing.T) {
	was := map[string]string{"cpus": "1000000000", "ip": "172.30.0.11", "mount /var/lib/docker": "v-docker"}
	want := map[string]string{"cpus": "2000000000", "ip": "172.30.0.11", "mount /var/lib/docker": "v-docker", "mount /home/student": "v-home"}
	got := strings.Join(Changes(was, want), "; ")
	if got != "cpus 1000000000 → 2000000000; mount /home/student added (v-home)" {
		t.Errorf("changes %q", got)
	}
	if len(Changes(want, want)) != 0 {
		t.Error("equal settings differ")
	}
}
