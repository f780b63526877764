package main

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// Pulumi's floor is only a floor for labfleet if the empty program runs as labfleet's does:
// the same runtime and runtime options, under its own name.
func TestEmptyProjectFileHasLabfleetsRuntime(t *testing.T) {
	t.Chdir(filepath.Join("..", "..")) // the project root, where Pulumi.yaml is
	raw, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var labfleet map[string]any
	if err := yaml.Unmarshal(raw, &labfleet); err != nil {
		t.Fatal(err)
	}
	file, err := emptyProjectFile()
	if err != nil {
		t.Fatal(err)
	}
	var empty map[string]any
	if err := yaml.Unmarshal([]byte(file), &empty); err != nil {
		t.Fatalf("%v in\n%s", err, file)
	}
	if empty["name"] != "lfbench-empty" || len(empty) != 2 {
		t.Errorf("empty program's project file:\n%s", file)
	}
	want, _ := yaml.Marshal(labfleet["runtime"])
	got, _ := yaml.Marshal(empty["runtime"])
	if string(got) != string(want) {
		t.Errorf("runtime %s, want labfleet's %s", got, want)
	}
}

// The real-CLI cohort keeps the default limit where it fits and never goes below the plan's
// minimum, whatever the host.
func TestCLINodeMemoryFitsTheHost(t *testing.T) {
	if got, err := cliNodeMemory(1); got != "1024m" || err != nil {
		t.Errorf("1 node: %s, %v, want the default 1024m", got, err)
	}
	if got, err := cliNodeMemory(1 << 20); got != "256m" || err != nil {
		t.Errorf("a million nodes: %s, %v, want the plan's minimum 256m", got, err)
	}
}
