package status

import (
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Phase 3 of the Day-2 lab compares the single container with the swarm. The results are
// every team's kept labprobe runs side by side (a table, CSV and a printable page) and the
// class's spread per phase.

// TeamRun is one run with its team.
type TeamRun struct {
	Team string
	ProbeRun
}

// Runs are every team's runs, team by team in the cohort's order, oldest first in each.
func (r Report) Runs() []TeamRun {
	var out []TeamRun
	for _, t := range r.Teams {
		for _, run := range t.Runs {
			out = append(out, TeamRun{Team: t.Team, ProbeRun: run})
		}
	}
	return out
}

// comparedPhases are the two the lab compares, in the lab's order.
var comparedPhases = []Phase{PhaseSingle, PhaseSwarm}

// Spread is the class's minimum, median and maximum of one measure, over N runs.
type Spread struct {
	N                int
	Min, Median, Max float64
	Unit             string // "%" or "s"
}

func spreadOf(values []float64, unit string) Spread {
	if len(values) == 0 {
		return Spread{Unit: unit}
	}
	v := slices.Sorted(slices.Values(values))
	median := v[len(v)/2]
	if len(v)%2 == 0 {
		median = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Spread{N: len(v), Min: v[0], Median: median, Max: v[len(v)-1], Unit: unit}
}

func (s Spread) String() string {
	if s.N == 0 {
		return "-"
	}
	f := func(x float64) string {
		if s.Unit == "%" {
			return strconv.FormatFloat(x, 'f', 1, 64) + "%"
		}
		return strconv.FormatFloat(x, 'f', 1, 64) + "s"
	}
	return f(s.Min) + " / " + f(s.Median) + " / " + f(s.Max)
}

// PhaseSummary is the class's record of one phase.
type PhaseSummary struct {
	Phase        Phase
	Runs, Teams  int
	Availability Spread // percent, per run
	Longest      Spread // seconds, the longest outage of each run
	Recovery     Spread // seconds, the mean recovery of each run that recovered
	NotRecovered int    // runs that ended with the target still down
}

// Summaries are the class's spread for each compared phase.
func (r Report) Summaries() []PhaseSummary {
	var out []PhaseSummary
	runs := r.Runs()
	for _, phase := range comparedPhases {
		s := PhaseSummary{Phase: phase}
		var avail, longest, recovery []float64
		teams := map[string]bool{}
		for _, run := range runs {
			if run.Phase != phase {
				continue
			}
			s.Runs++
			teams[run.Team] = true
			avail = append(avail, run.Availability)
			longest = append(longest, float64(run.LongestOutageMS)/1000)
			if run.Recoveries > 0 {
				recovery = append(recovery, float64(run.MeanRecoveryMS)/1000)
			}
			if run.NotRecoveredMS > 0 {
				s.NotRecovered++
			}
		}
		s.Teams = len(teams)
		s.Availability, s.Longest, s.Recovery = spreadOf(avail, "%"), spreadOf(longest, "s"), spreadOf(recovery, "s")
		out = append(out, s)
	}
	return out
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).String() }

// recoveryCell says how a run recovered: its mean recovery, or that it ended still down.
func recoveryCell(r ProbeRun) string {
	switch {
	case r.NotRecoveredMS > 0 && r.Recoveries > 0:
		return fmt.Sprintf("%s (%d); NOT RECOVERED at the end", ms(r.MeanRecoveryMS), r.Recoveries)
	case r.NotRecoveredMS > 0:
		return "NOT RECOVERED (down for the last " + ms(r.NotRecoveredMS) + ")"
	case r.Recoveries > 0:
		return fmt.Sprintf("%s (%d)", ms(r.MeanRecoveryMS), r.Recoveries)
	default:
		return "no outage"
	}
}

const stampLayout = "2006-01-02 15:04:05"

// plain is text a student wrote (a URL, a task name), made safe to print: control characters
// (a terminal's escape sequences) become '?'.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// csvCell is plain text that a spreadsheet will not run as a formula.
func csvCell(s string) string {
	s = plain(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteResults writes every run, then the class's spread per phase.
func (r Report) WriteResults(w io.Writer) error {
	runs := r.Runs()
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "Phase 3 of cohort %s: no labprobe run is kept on any node yet (labprobe keeps each run in ~/.labprobe/runs.jsonl on the node it ran on)\n", r.Cohort)
		return err
	}
	fmt.Fprintf(w, "Phase 3 of cohort %s: %d labprobe runs\n\n", r.Cohort, len(runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tPHASE\tNODE\tSTARTED (UTC)\tTOOK\tCHECKS\tAVAILABILITY\tOUTAGES\tLONGEST\tRECOVERY (MEAN)\tURL")
	for _, run := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.2f%%\t%d\t%s\t%s\t%s\n", run.Team, run.Phase, run.Node, run.Started.UTC().Format(stampLayout),
			run.Ended.Sub(run.Started).Round(time.Second), run.Checks, run.Availability, run.Outages, ms(run.LongestOutageMS), recoveryCell(run.ProbeRun), plain(run.URL))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nThe class, per phase (min / median / max over the runs):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tRUNS\tTEAMS\tAVAILABILITY\tLONGEST OUTAGE\tRECOVERY (MEAN)\tNOT RECOVERED")
	for _, s := range r.Summaries() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\n", s.Phase, s.Runs, s.Teams, s.Availability, s.Longest, s.Recovery, s.NotRecovered)
	}
	return tw.Flush()
}

// WriteResultsCSV writes one row per run, for a spreadsheet.
func (r Report) WriteResultsCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"team", "node", "phase", "url", "started", "ended", "checks", "ok", "availability_percent", "outages",
		"longest_outage_ms", "recoveries", "mean_recovery_ms", "not_recovered_ms", "served_by"})
	for _, run := range r.Runs() {
		c.Write([]string{run.Team, run.Node, string(run.Phase), csvCell(run.URL), run.Started.UTC().Format(time.RFC3339), run.Ended.UTC().Format(time.RFC3339),
			strconv.Itoa(run.Checks), strconv.Itoa(run.OK), strconv.FormatFloat(run.Availability, 'f', 2, 64), strconv.Itoa(run.Outages),
			strconv.FormatInt(run.LongestOutageMS, 10), strconv.Itoa(run.Recoveries), strconv.FormatInt(run.MeanRecoveryMS, 10),
			strconv.FormatInt(run.NotRecoveredMS, 10), csvCell(strings.Join(run.ServedBy, " "))})
	}
	c.Flush()
	return c.Error()
}

//go:embed results.html.tmpl
var resultsFS embed.FS

var resultsPage = template.Must(template.New("results.html.tmpl").Funcs(template.FuncMap{
	"stamp":    func(t time.Time) string { return t.UTC().Format(stampLayout) },
	"took":     func(r ProbeRun) string { return r.Ended.Sub(r.Started).Round(time.Second).String() },
	"ms":       ms,
	"recovery": recoveryCell,
	"pct":      func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
}).ParseFS(resultsFS, "results.html.tmpl"))

// resultsSection is one phase on the printable page: its runs, charted, and its spread.
type resultsSection struct {
	PhaseSummary
	Runs []TeamRun
}

// WriteResultsHTML writes a printable, self-contained page (no script, no link out): per
// phase a chart of each run's availability, the runs, and the class's spread.
func (r Report) WriteResultsHTML(w io.Writer) error {
	runs := r.Runs()
	var sections []resultsSection
	for _, s := range r.Summaries() {
		sec := resultsSection{PhaseSummary: s}
		for _, run := range runs {
			if run.Phase == s.Phase {
				sec.Runs = append(sec.Runs, run)
			}
		}
		sections = append(sections, sec)
	}
	var other []TeamRun
	for _, run := range runs {
		if !slices.Contains(comparedPhases, run.Phase) {
			other = append(other, run)
		}
	}
	return resultsPage.Execute(w, map[string]any{"Cohort": r.Cohort, "Sections": sections, "Other": other, "Total": len(runs)})
}
