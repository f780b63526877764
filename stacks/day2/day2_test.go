package day2

import (
	"strings"
	"testing"
)

func TestRenderIngressMode(t *testing.T) {
	s, err := Render(8090, false, []string{"sha256:a", "sha256:b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`- "8090:3000"`, "replicas: 3", "parallelism: 1", "delay: 10s", `labfleet.stack-hash: "` + s.Hash + `"`,
		`hostname: "{{.Node.Hostname}}-web.{{.Task.Slot}}"`, `test: ["CMD", "/improved-app", "-healthcheck"]`} {
		if !strings.Contains(s.YAML, want) {
			t.Errorf("stack lacks %q:\n%s", want, s.YAML)
		}
	}
	for _, unwanted := range []string{"edge:", "dnsrr", "mode: host"} {
		if strings.Contains(s.YAML, unwanted) {
			t.Errorf("ingress stack has %q", unwanted)
		}
	}
}

func TestRenderHostMode(t *testing.T) {
	s, err := Render(8090, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"endpoint_mode: dnsrr", "edge:", `command: ["-proxy", "tasks.web:3000"]`, "published: 8090", "mode: host", "mode: global"} {
		if !strings.Contains(s.YAML, want) {
			t.Errorf("host-mode stack lacks %q", want)
		}
	}
	if strings.Contains(s.YAML, `"8090:3000"`) {
		t.Error("host-mode stack publishes through the ingress mesh")
	}
	if strings.Contains(s.YAML, "\t") {
		t.Error("tabs in YAML")
	}
}

func TestHashFollowsEveryInput(t *testing.T) {
	base, _ := Render(8090, true, []string{"sha256:a"})
	same, _ := Render(8090, true, []string{"sha256:a"})
	if base.Hash != same.Hash {
		t.Fatal("hash is not stable")
	}
	for name, other := range map[string][]any{
		"port":  {8091, true, []string{"sha256:a"}},
		"mode":  {8090, false, []string{"sha256:a"}},
		"image": {8090, true, []string{"sha256:b"}},
	} {
		s, _ := Render(other[0].(int), other[1].(bool), other[2].([]string))
		if s.Hash == base.Hash {
			t.Errorf("changing the %s kept the hash", name)
		}
	}
}
