package day3

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/plan"
)

func planFor(t *testing.T, edit func(*plan.Config)) *plan.Plan {
	cfg := plan.Defaults("c")
	cfg.Day, cfg.Privilege, cfg.NodeMemory = 3, "privileged", "3g"
	if edit != nil {
		edit(&cfg)
	}
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEveryTeamsConfigLoadsWithKindsTypes(t *testing.T) {
	p := planFor(t, func(c *plan.Config) { c.Teams = 3 })
	for _, team := range p.Teams {
		c, err := Render(p.Day3, team)
		if err != nil {
			t.Fatal(err)
		}
		host := team.Nodes[0]
		if c.HostNode != host.Name || c.APIServer != "https://"+host.IP.String()+":6443" || c.ClusterName != team.Name {
			t.Errorf("%s: %+v", team.Name, c)
		}
		for _, want := range []string{"apiServerAddress: \"" + host.IP.String() + "\"", "containerPort: 30080", "image: " + plan.DefaultKindNodeImage, "failCgroupV1: false"} {
			if !strings.Contains(c.YAML, want) {
				t.Errorf("%s config lacks %q:\n%s", team.Name, want, c.YAML)
			}
		}
		if n := strings.Count(c.YAML, "role: worker"); n != 2 {
			t.Errorf("%d workers", n)
		}
	}
}

func TestSizesFollowTheConfig(t *testing.T) {
	p := planFor(t, func(c *plan.Config) { c.KindControlPlanes, c.KindWorkers, c.NodeMemory = 3, 0, "4g" })
	c, err := Render(p.Day3, p.Teams[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(c.YAML, "role: control-plane") != 3 || strings.Contains(c.YAML, "role: worker") || strings.Count(c.YAML, "extraPortMappings") != 1 {
		t.Errorf("config:\n%s", c.YAML)
	}
}

func TestValidateRefusesWhatKindWould(t *testing.T) {
	d := planFor(t, nil).Day3
	for name, doc := range map[string]string{
		"unknown field":  "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n",
		"wrong version":  "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\nnodes: [{role: control-plane, image: kindest/node:v1.37.0}]\n",
		"localhost api":  "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {apiServerPort: 6443}\nnodes: [{role: control-plane, image: kindest/node:v1.37.0}, {role: worker, image: kindest/node:v1.37.0}, {role: worker, image: kindest/node:v1.37.0}]\n",
		"missing worker": "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {apiServerAddress: 10.0.0.1, apiServerPort: 6443}\nnodes: [{role: control-plane, image: kindest/node:v1.37.0}]\n",
		"other image":    "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane, image: kindest/node:v1.30.0}]\n",
	} {
		if err := Validate(doc, d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The pinned versions, the default node image and go.mod must agree.
func TestPinsAgree(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`sigs.k8s.io/kind ` + regexp.QuoteMeta(KindVersion) + `\b`).Match(mod) {
		t.Errorf("go.mod does not pin sigs.k8s.io/kind %s", KindVersion)
	}
	if !regexp.MustCompile(`k8s.io/kubectl v0` + regexp.QuoteMeta(strings.TrimPrefix(KubernetesVersion, "v1")) + `\b`).Match(mod) {
		t.Errorf("go.mod does not pin k8s.io/kubectl for %s", KubernetesVersion)
	}
}
