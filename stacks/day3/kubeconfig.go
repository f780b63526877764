package day3

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// SafeKubeconfig rebuilds a kubeconfig read back from a node, which students control, from
// its certificate data alone: one cluster at the expected API server with its CA, one user
// with a client certificate and key. Anything else a kubeconfig can carry, and that would
// run or fetch something on the machine that uses it (exec or auth-provider plugins, token
// files, proxies, files by path, skipped TLS checks), is refused, so what reaches the stack
// outputs and the handouts can only ever talk TLS to the team's cluster.
func SafeKubeconfig(raw, name, wantServer string) (string, error) {
	var in struct {
		Clusters []struct {
			Cluster map[string]any `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User map[string]any `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal([]byte(raw), &in); err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	if len(in.Clusters) != 1 || len(in.Users) != 1 {
		return "", fmt.Errorf("kubeconfig: want one cluster and one user, got %d and %d", len(in.Clusters), len(in.Users))
	}
	cluster, user := in.Clusters[0].Cluster, in.Users[0].User
	if err := onlyKeys("cluster", cluster, "server", "certificate-authority-data"); err != nil {
		return "", err
	}
	if err := onlyKeys("user", user, "client-certificate-data", "client-key-data"); err != nil {
		return "", err
	}
	if server, _ := cluster["server"].(string); server != wantServer {
		return "", fmt.Errorf("kubeconfig: server %q, want %q", server, wantServer)
	}
	var data [3]string
	for i, v := range []any{cluster["certificate-authority-data"], user["client-certificate-data"], user["client-key-data"]} {
		s, _ := v.(string)
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || s == "" {
			return "", fmt.Errorf("kubeconfig: certificate data %d is not base64", i+1)
		}
		data[i] = s
	}
	ctx := "kind-" + name
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s
  user:
    client-certificate-data: %[4]s
    client-key-data: %[5]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s
current-context: %[1]s
`, ctx, wantServer, data[0], data[1], data[2]), nil
}

func onlyKeys(what string, m map[string]any, allowed ...string) error {
	var extra []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("kubeconfig: the %s has %s, which labfleet does not hand out (only %s): was the cluster changed on the node?",
			what, strings.Join(extra, ", "), strings.Join(allowed, " and "))
	}
	return nil
}
