package status

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func classReport() Report {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 7, h, m, 0, 0, time.UTC) }
	run := func(node string, phase Phase, start time.Time, secs int, avail float64, longestMS, recMS int64, recoveries int, downMS int64) ProbeRun {
		return ProbeRun{Node: node, Phase: phase, URL: "http://localhost:8080/health", Started: start, Ended: start.Add(time.Duration(secs) * time.Second),
			Checks: secs * 4, OK: int(float64(secs*4) * avail / 100), Availability: avail, Outages: recoveries + map[bool]int{true: 1}[downMS > 0],
			LongestOutageMS: longestMS, Recoveries: recoveries, MeanRecoveryMS: recMS, NotRecoveredMS: downMS}
	}
	return Report{Cohort: "spring", Teams: []TeamStatus{
		{Team: "team1", Runs: []ProbeRun{
			run("team1-w1", PhaseSingle, at(9, 10), 60, 40, 36000, 0, 0, 36000),
			run("team1-m1", PhaseSwarm, at(9, 40), 120, 100, 0, 0, 0, 0),
		}},
		{Team: "team2", Runs: []ProbeRun{
			run("team2-w2", PhaseSingle, at(9, 12), 60, 80, 12000, 12000, 1, 0),
			run("team2-m1", PhaseSwarm, at(9, 45), 120, 99.5, 600, 600, 1, 0),
			run("team2-m1", PhaseNone, at(9, 50), 5, 0, 5000, 0, 0, 5000),
		}},
	}}
}

func TestTheClassSpreadPerPhase(t *testing.T) {
	s := classReport().Summaries()
	if len(s) != 2 || s[0].Phase != PhaseSingle || s[1].Phase != PhaseSwarm {
		t.Fatalf("summaries %+v", s)
	}
	single, swarm := s[0], s[1]
	if single.Runs != 2 || single.Teams != 2 || single.Availability != (Spread{N: 2, Min: 40, Median: 60, Max: 80, Unit: "%"}) ||
		single.Longest.Median != 24 || single.Recovery.N != 1 || single.Recovery.Median != 12 || single.NotRecovered != 1 {
		t.Errorf("single container: %+v", single)
	}
	if swarm.Runs != 2 || swarm.Availability.Min != 99.5 || swarm.Availability.Max != 100 || swarm.Longest.Max != 0.6 || swarm.NotRecovered != 0 {
		t.Errorf("swarm: %+v", swarm)
	}
}

func TestResultsAsTextCSVAndAPrintablePage(t *testing.T) {
	r := classReport()
	var text strings.Builder
	if err := r.WriteResults(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Phase 3 of cohort spring: 5 labprobe runs", "team1  single container  team1-w1  2026-12-07 09:10:00", "NOT RECOVERED (down for the last 36s)",
		"12s (1)", "single container  2     2      40.0% / 60.0% / 80.0%", "swarm             2     2      99.5% / 99.8% / 100.0%"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	var b strings.Builder
	if err := r.WriteResultsCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[0][0] != "team" || rows[1][2] != "single container" || rows[4][8] != "99.50" || rows[5][2] != "never answered" {
		t.Errorf("csv:\n%s", b.String())
	}

	// A URL is whatever a student typed: no terminal escapes in the text, no formula in the
	// spreadsheet.
	r.Teams[1].Runs[0].URL = "=HYPERLINK(\"x\")\x1b[31m"
	text.Reset()
	b.Reset()
	if err := r.WriteResults(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteResultsCSV(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "\x1b") || !strings.Contains(b.String(), `'=HYPERLINK(""x"")?[31m`) {
		t.Errorf("student text printed as is:\n%q\n%s", text.String(), b.String())
	}

	// The page escapes it, and loads nothing.
	r.Teams[0].Runs[0].URL = `http://x/<script>alert(1)</script>`
	var page strings.Builder
	if err := r.WriteResultsHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{"<h2>single container: 2 runs by 2 teams</h2>", "<h2>swarm: 2 runs by 2 teams</h2>", "Runs that never got an answer",
		"team2 · team2-m1 · 2026-12-07 09:45:00", "width:99.50%", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, never := range []string{"<script", " src=", " href="} {
		if strings.Contains(html, never) {
			t.Errorf("page holds %q: it must be self-contained and inert", never)
		}
	}
}

func TestResultsBeforeAnyRun(t *testing.T) {
	var b strings.Builder
	if err := (Report{Cohort: "spring", Teams: []TeamStatus{{Team: "team1"}}}).WriteResults(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "no labprobe run is kept on any node yet") {
		t.Errorf("%s", b.String())
	}
}
