package infra

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"

	"github.com/labfleet/labfleet/model/plan"
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

// Pulumi fills in the defaults Pulumi.yaml declares; plan.Defaults stands in for a key an
// older Pulumi.yaml lacks, and is what the Go API and the benchmark start from. Both say the
// same, or a cohort would differ by the way it was created.
func TestPulumiYAMLDefaultsAreThePlansDefaults(t *testing.T) {
	raw, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Config map[string]struct {
			Default any `json:"default"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	// Pulumi hands the program every value as a string: JSON for lists and objects.
	declared := map[string]string{}
	for key, decl := range project.Config {
		switch v := decl.Default.(type) {
		case nil:
		case string:
			declared[key] = v
		default:
			encoded, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			declared[key] = string(encoded)
		}
	}
	if len(declared) < 20 {
		t.Fatalf("read %d defaults from Pulumi.yaml; its config block moved?", len(declared))
	}
	var got plan.Config
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		got, _, err = LoadConfig(ctx)
		return err
	}, pulumi.WithMocks("labfleet", "spring", &mocks{}), func(ri *pulumi.RunInfo) { ri.Config = declared })
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Defaults("spring")
	// An empty list or map declared in Pulumi.yaml reads as empty, not nil: the same setting.
	for _, empty := range []struct{ got, want any }{{&got.TeamNames, &want.TeamNames}, {&got.ResetSwarms, &want.ResetSwarms},
		{&got.TeamHosts, &want.TeamHosts}, {&got.Hosts, &want.Hosts}, {&got.Machines, &want.Machines}} {
		g, w := reflect.ValueOf(empty.got).Elem(), reflect.ValueOf(empty.want).Elem()
		if g.Len() == 0 && w.Len() == 0 {
			g.Set(w)
		}
	}
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s: Pulumi.yaml's default gives %#v, plan.Defaults %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
}
