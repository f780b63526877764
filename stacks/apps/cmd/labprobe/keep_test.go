package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// golden is a kept run exactly as labprobe writes it; labfleet's status parses the same file
// (bootstrap/status), so writer and reader agree on every field.
const golden = "testdata/run.json"

func sampleRun() Run {
	r := &Record{}
	t0 := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		ms     int
		up     bool
		served string
	}{{0, true, "a1"}, {250, true, "b2"}, {500, false, ""}, {750, false, ""}, {1000, true, "a1"}, {1250, false, ""}} {
		r.Served(c.served)
		r.Add(at(c.ms), c.up)
	}
	r.Finish(at(1500))
	return r.Run("http://localhost:8080/health")
}

func TestAKeptRunSaysWhatTheSummarySays(t *testing.T) {
	run := sampleRun()
	if run.Checks != 6 || run.OK != 3 || run.Availability != 50 || run.Outages != 2 || run.Recoveries != 1 ||
		run.LongestOutageMS != 500 || run.MeanRecoveryMS != 500 || run.NotRecoveredMS != 250 ||
		strings.Join(run.ServedBy, ",") != "a1,b2" || run.Ended.Sub(run.Started) != 1500*time.Millisecond {
		t.Errorf("kept run %+v", run)
	}
	line, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(line, '\n'), want) {
		t.Errorf("a kept run is written as\n%s\nbut %s (which bootstrap/status parses) holds\n%s", line, golden, want)
	}
}

func TestKeepAppendsOneLinePerRunReadableByItsOwnerOnly(t *testing.T) {
	home := t.TempDir()
	for range 2 {
		path, err := keep(sampleRun(), home)
		if err != nil {
			t.Fatal(err)
		}
		if path != filepath.Join(home, RunsFile) {
			t.Errorf("kept in %s", path)
		}
	}
	path := filepath.Join(home, RunsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); len(lines) != 2 {
		t.Errorf("%d lines after two runs:\n%s", len(lines), data)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	if _, err := keep(sampleRun(), ""); err == nil {
		t.Error("kept a run with no home")
	}
}
