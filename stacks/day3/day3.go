// Package day3 renders each team's kind cluster configuration and validates it with kind's
// own v1alpha4 types, before anything runs.
package day3

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/labfleet/labfleet/model/plan"
)

// Pinned versions. go.mod pins sigs.k8s.io/kind and k8s.io/kubectl to match; a test checks.
const (
	KindVersion       = "v0.33.0"
	KubernetesVersion = "v1.37.0"
)

//go:embed kind-config.yaml.tmpl
var configTemplate string

// labFS holds the Day-3 lab's files, which every node of a team gets in ~/day3: the Day-2
// exercises in Kubernetes form.
//
//go:embed lab/*.yaml
var labFS embed.FS

// LabFile is one file of the Day-3 lab.
type LabFile struct{ Name, Content string }

// LabFiles returns the Day-3 lab's files.
func LabFiles() []LabFile {
	entries, _ := labFS.ReadDir("lab") // embedded: cannot fail
	var out []LabFile
	for _, e := range entries {
		b, _ := labFS.ReadFile("lab/" + e.Name())
		out = append(out, LabFile{Name: e.Name(), Content: string(b)})
	}
	return out
}

var configTmpl = template.Must(template.New("kind").Parse(configTemplate))

// Config is one team's rendered kind configuration.
type Config struct {
	ClusterName string
	HostNode    string // the node whose dockerd runs the cluster
	APIServer   string // https://ip:port students' kubeconfig points at
	YAML        string
}

// Render renders and validates the kind configuration of team t.
func Render(d plan.Day3, t plan.Team) (Config, error) {
	host := t.Managers()[0]
	data := struct {
		Team, Name, HostNode, APIAddress, Image string
		APIPort                                 int
		ControlPlanes, Workers                  []int
		NodePorts                               []int
	}{
		Team: t.Name, Name: t.Name, HostNode: host.Name, APIAddress: host.IP.String(), Image: d.NodeImage,
		APIPort: d.APIPort, ControlPlanes: seq(d.ControlPlanes), Workers: seq(d.Workers), NodePorts: d.NodePorts,
	}
	var b bytes.Buffer
	if err := configTmpl.Execute(&b, data); err != nil {
		return Config{}, err
	}
	c := Config{ClusterName: t.Name, HostNode: host.Name, APIServer: fmt.Sprintf("https://%s:%d", host.IP, d.APIPort), YAML: b.String()}
	if err := Validate(c.YAML, d); err != nil {
		return Config{}, fmt.Errorf("team %q: kind config: %w", t.Name, err)
	}
	return c, nil
}

// Validate loads a kind configuration strictly into kind's v1alpha4 types, applies kind's
// defaults, and checks it describes the planned cluster.
func Validate(doc string, d plan.Day3) error {
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict([]byte(doc), &c); err != nil {
		return fmt.Errorf("not a valid kind v1alpha4 Cluster: %w", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return fmt.Errorf("kind %q apiVersion %q, want Cluster kind.x-k8s.io/v1alpha4", c.Kind, c.APIVersion)
	}
	v1alpha4.SetDefaultsCluster(&c)
	roles := map[v1alpha4.NodeRole]int{}
	for _, n := range c.Nodes {
		roles[n.Role]++
		if n.Image != d.NodeImage {
			return fmt.Errorf("node image %q, want %q", n.Image, d.NodeImage)
		}
	}
	if roles[v1alpha4.ControlPlaneRole] != d.ControlPlanes || roles[v1alpha4.WorkerRole] != d.Workers {
		return fmt.Errorf("%d control planes and %d workers, want %d and %d", roles[v1alpha4.ControlPlaneRole], roles[v1alpha4.WorkerRole], d.ControlPlanes, d.Workers)
	}
	if int(c.Networking.APIServerPort) != d.APIPort || c.Networking.APIServerAddress == "" || c.Networking.APIServerAddress == "127.0.0.1" {
		return fmt.Errorf("API server %s:%d, want the hosting node's team address on port %d", c.Networking.APIServerAddress, c.Networking.APIServerPort, d.APIPort)
	}
	return nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
