package infra

import (
	"slices"
	"testing"

	"github.com/labfleet/labfleet/infra/plan"
)

// Two hosts with TLS: what `pulumi config set --path` writes (checked with the CLI), with
// --secret for the first key only. Pulumi then calls the whole `hosts` key secret.
const oneKeyPlain = `
encryptionsalt: v1:wMU2gs/AXSw=:v1:XdLenJxhF/828ZJA:DUue+Eo/JM4E/Q7SeMpEvWxuLdVEKA==
config:
  labfleet:teams: "4"
  labfleet:hosts:
    - name: a
      docker: tcp://a:2376
      tls:
        ca: the CA
        key:
          secure: v1:5K/XFaOSOw4IcQiO:ZW1Jgl/xr/Yc/vrMTmC+JSlVpHA=
    - name: b
      docker: tcp://b:2376
      tls:
        key: KEY1
`

func TestEachTLSKeyMustBeSecretNotJustTheHostsKey(t *testing.T) {
	tlsHosts := []plan.HostConfig{
		{Name: "a", TLS: &plan.TLS{Key: "KEY0"}},
		{Name: "b", TLS: &plan.TLS{Key: "KEY1"}},
	}
	cases := []struct {
		name     string
		settings string
		hosts    []plan.HostConfig
		plain    []string
		found    bool
	}{
		{"one key secret, one plain", oneKeyPlain, tlsHosts, []string{"labfleet:hosts[1].tls.key"}, true},
		{"the whole list secret", "config:\n  labfleet:hosts:\n    secure: v1:abc\n", tlsHosts, nil, true},
		{"the whole list as plain JSON", "config:\n  labfleet:hosts: '[{\"name\":\"a\",\"tls\":{\"key\":\"KEY0\"}}]'\n",
			tlsHosts[:1], []string{"labfleet:hosts[0].tls.key"}, true},
		{"a host without TLS next to a secret one", "config:\n  labfleet:hosts:\n    - name: a\n    - name: b\n      tls:\n        key:\n          secure: v1:x\n",
			[]plan.HostConfig{{Name: "a"}, {Name: "b", TLS: &plan.TLS{Key: "K"}}}, nil, true},
		{"hosts set elsewhere", "config:\n  labfleet:teams: \"2\"\n", tlsHosts, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain, found, err := plainTLSKeys([]byte(c.settings), c.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.found || !slices.Equal(plain, c.plain) {
				t.Errorf("plain, found = %q, %v; want %q, %v", plain, found, c.plain, c.found)
			}
		})
	}
	if _, _, err := plainTLSKeys([]byte("config: [unclosed"), tlsHosts); err == nil {
		t.Error("a settings file that is not YAML passed")
	}
}
