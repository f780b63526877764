package status

import (
	"encoding/json"
	"fmt"
	"strings"
)

// swarmEntry is one line of `docker node ls --format '{{json .}}'`. A node whose container
// was replaced leaves an old entry under the same hostname until labfleet removes it.
type swarmEntry struct {
	ID            string
	Hostname      string
	Status        string // Ready, Down, Unknown, Disconnected
	Availability  string // Active, Pause, Drain
	ManagerStatus string // Leader, Reachable, Unreachable; empty for a worker
}

// serviceEntry is one line of `docker service ls --format '{{json .}}'`.
type serviceEntry struct {
	ID       string
	Name     string
	Mode     string // replicated, global, replicated-job, global-job
	Replicas string // "2/3", "3/3 (max 1 per node)", "0/1 (1/1 completed)"
	Image    string
}

// parseLines decodes output holding one JSON object per line, as docker's
// `--format '{{json .}}'` prints it.
func parseLines[T any](what, out string) ([]T, error) {
	var items []T
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var item T
		if err := json.Unmarshal([]byte(line), &item); err != nil {
			return nil, fmt.Errorf("cannot read %s line %q: %w", what, line, err)
		}
		items = append(items, item)
	}
	return items, nil
}

// sections splits output made of blocks, each introduced by a marker line, into the text
// after each marker. The manager answers everything status needs in one command this way.
func sections(out string, markers ...string) (map[string]string, error) {
	found := map[string]string{}
	current := ""
	var block strings.Builder
	flush := func() {
		if current != "" {
			found[current] = block.String()
		}
		block.Reset()
	}
	for _, line := range strings.SplitAfter(out, "\n") {
		if m := strings.TrimSpace(line); strings.HasPrefix(m, sectionPrefix) {
			flush()
			current = strings.TrimPrefix(m, sectionPrefix)
			continue
		}
		block.WriteString(line)
	}
	flush()
	for _, m := range markers {
		if _, ok := found[m]; !ok {
			return nil, fmt.Errorf("the answer has no %q part: %q", m, out)
		}
	}
	return found, nil
}

const sectionPrefix = "@@labfleet-status "

// kubeNodes is the part of `kubectl get nodes -o json` status reads.
type kubeNodes struct {
	Items []struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

// parseKubeNodes reads `kubectl get nodes -o json` into each node's name, role and
// readiness (its Ready condition is True).
func parseKubeNodes(out string) ([]KindNode, error) {
	var list kubeNodes
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("cannot read kubectl get nodes: %w", err)
	}
	var nodes []KindNode
	for _, item := range list.Items {
		n := KindNode{Name: item.Metadata.Name, Role: "worker"}
		if _, ok := item.Metadata.Labels["node-role.kubernetes.io/control-plane"]; ok {
			n.Role = "control-plane"
		}
		for _, c := range item.Status.Conditions {
			if c.Type == "Ready" {
				n.Ready = c.Status == "True"
			}
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
