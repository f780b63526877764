package status

import (
	"reflect"
	"strings"
	"testing"
)

// Real answers of docker 26.1.5 in a labfleet node (team1-w2 drained by hand, a student's
// global service and job beside the day2 stack in host mode).
const (
	nodeLsSample = `{"Availability":"Active","EngineVersion":"26.1.5+dfsg1","Hostname":"team1-m1","ID":"b8cplvnvh6c5plvosloaazjs7","ManagerStatus":"Leader","Self":true,"Status":"Ready","TLSStatus":"Ready"}
{"Availability":"Active","EngineVersion":"26.1.5+dfsg1","Hostname":"team1-w1","ID":"vuo61h1sle5bv4tr2wdy7fmzx","ManagerStatus":"","Self":false,"Status":"Ready","TLSStatus":"Ready"}
{"Availability":"Drain","EngineVersion":"26.1.5+dfsg1","Hostname":"team1-w2","ID":"gsiptt43stnuyxspb0n8cdwmf","ManagerStatus":"","Self":false,"Status":"Ready","TLSStatus":"Ready"}
`
	serviceLsSample = `{"ID":"vt4z12s1rake","Image":"improved-app:latest","Mode":"global","Name":"day2_edge","Ports":"","Replicas":"2/2"}
{"ID":"50i306wzizrx","Image":"improved-app:latest","Mode":"replicated","Name":"day2_web","Ports":"","Replicas":"2/3"}
{"ID":"nfx3v4r7to0s","Image":"improved-app:latest","Mode":"global","Name":"gl","Ports":"","Replicas":"0/1"}
{"ID":"kvycysf7fl2e","Image":"improved-app:latest","Mode":"replicated job","Name":"job","Ports":"","Replicas":"0/1 (0/1 completed)"}
`
	day2IDsSample = "vt4z12s1rake\n50i306wzizrx\n"
)

// `kubectl get nodes -o json` as kubectl prints a core/v1 NodeList, trimmed to a few fields
// (written by hand: no kind cluster runs on the CI host): a control plane that is Ready, a
// worker whose kubelet stopped reporting.
const kubeNodesSample = `{
  "apiVersion": "v1",
  "items": [
    {"kind": "Node", "metadata": {"name": "team1-control-plane", "labels": {"kubernetes.io/hostname": "team1-control-plane", "node-role.kubernetes.io/control-plane": ""}},
     "status": {"conditions": [
       {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
       {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
    {"kind": "Node", "metadata": {"name": "team1-worker", "labels": {"kubernetes.io/hostname": "team1-worker"}},
     "status": {"conditions": [
       {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}}
  ],
  "kind": "List"
}`

func TestParseDockerLists(t *testing.T) {
	nodes, err := parseLines[swarmEntry]("docker node ls", nodeLsSample)
	if err != nil {
		t.Fatal(err)
	}
	want := []swarmEntry{
		{ID: "b8cplvnvh6c5plvosloaazjs7", Hostname: "team1-m1", Status: "Ready", Availability: "Active", ManagerStatus: "Leader"},
		{ID: "vuo61h1sle5bv4tr2wdy7fmzx", Hostname: "team1-w1", Status: "Ready", Availability: "Active"},
		{ID: "gsiptt43stnuyxspb0n8cdwmf", Hostname: "team1-w2", Status: "Ready", Availability: "Drain"},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf("nodes:\n%+v\nwant\n%+v", nodes, want)
	}
	services, err := parseLines[serviceEntry]("docker service ls", serviceLsSample)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 4 || services[1] != (serviceEntry{ID: "50i306wzizrx", Name: "day2_web", Mode: "replicated", Replicas: "2/3", Image: "improved-app:latest"}) ||
		services[3].Mode != "replicated job" {
		t.Errorf("services: %+v", services)
	}
	if _, err := parseLines[swarmEntry]("docker node ls", "ID HOSTNAME STATUS\nabc team1-m1 Ready\n"); err == nil ||
		!strings.Contains(err.Error(), `cannot read docker node ls line "ID HOSTNAME STATUS"`) {
		t.Errorf("a table instead of JSON lines: %v", err)
	}
}

func TestSections(t *testing.T) {
	out := sectionPrefix + "nodes\n" + nodeLsSample + sectionPrefix + "services\n" + serviceLsSample + sectionPrefix + "day2\n" + day2IDsSample
	parts, err := sections(out, "nodes", "services", "day2")
	if err != nil {
		t.Fatal(err)
	}
	if parts["nodes"] != nodeLsSample || parts["services"] != serviceLsSample || parts["day2"] != day2IDsSample {
		t.Errorf("parts: %q", parts)
	}
	// An empty part (no services) is still a part.
	parts, err = sections(sectionPrefix+"nodes\n"+nodeLsSample+sectionPrefix+"services\n"+sectionPrefix+"day2\n", "nodes", "services", "day2")
	if err != nil || parts["services"] != "" || parts["day2"] != "" {
		t.Errorf("empty parts: %q %v", parts, err)
	}
	// A command that stopped half-way (docker service ls failed) lacks its later parts.
	if _, err := sections(sectionPrefix+"nodes\n"+nodeLsSample, "nodes", "services", "day2"); err == nil || !strings.Contains(err.Error(), `no "services" part`) {
		t.Errorf("missing part: %v", err)
	}
}

func TestParseKubeNodes(t *testing.T) {
	nodes, err := parseKubeNodes(kubeNodesSample)
	if err != nil {
		t.Fatal(err)
	}
	want := []KindNode{{Name: "team1-control-plane", Role: "control-plane", Ready: true}, {Name: "team1-worker", Role: "worker", Ready: false}}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf("nodes %+v, want %+v", nodes, want)
	}
	if _, err := parseKubeNodes("The connection to the server 172.30.0.10:6443 was refused"); err == nil {
		t.Error("no error for kubectl's complaint")
	}
}
