package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is what labprobe keeps of a run on the node it ran on, one JSON line each in
// RunsFile under the user's home, for the class's Phase-3 comparison: labfleet's status
// reads every node's runs back (make results). testdata/run.json pins the fields for the
// reader too.
type Run struct {
	URL             string    `json:"url"`
	Started         time.Time `json:"started"`
	Ended           time.Time `json:"ended"`
	Checks          int       `json:"checks"`
	OK              int       `json:"ok"`
	Availability    float64   `json:"availability"` // percent of checks answered 2xx
	Outages         int       `json:"outages"`      // one still going on at the end included
	LongestOutageMS int64     `json:"longestOutageMs"`
	Recoveries      int       `json:"recoveries"`
	MeanRecoveryMS  int64     `json:"meanRecoveryMs"` // 0 when nothing recovered
	NotRecoveredMS  int64     `json:"notRecoveredMs"` // still down at the end for this long, or 0
	ServedBy        []string  `json:"servedBy"`       // X-Served-By answers: improved-app's tasks
}

// RunsFile is where a user's runs are kept, relative to their home.
const RunsFile = ".labprobe/runs.jsonl"

// Run is the record's summary for keeping.
func (r *Record) Run(url string) Run {
	served := r.ServedBy
	if served == nil {
		served = []string{}
	}
	return Run{
		URL: url, Started: r.start.UTC(), Ended: r.end.UTC(), Checks: r.Checks, OK: r.OK,
		Availability:    r.Availability(),
		Outages:         len(r.Outages) + boolInt(r.StillDown() > 0),
		LongestOutageMS: r.Longest().Milliseconds(),
		Recoveries:      len(r.Outages),
		MeanRecoveryMS:  r.MeanRecovery().Milliseconds(),
		NotRecoveredMS:  r.StillDown().Milliseconds(),
		ServedBy:        served,
	}
}

// keep appends the run to RunsFile under home and returns the file's path.
func keep(run Run, home string) (string, error) {
	if home == "" {
		return "", fmt.Errorf("no home directory ($HOME is empty)")
	}
	path := filepath.Join(home, RunsFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	line, err := json.Marshal(run)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, err
}
