package prereq

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints one line per tool, then the fix for each tool that is not OK, and says
// whether all of them are OK.
func WriteTable(w io.Writer, rows []Row) (ok bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "prerequisite\tstatus\tversion\tpath")
	ok = true
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Tool, r.Status, orDash(r.Version), orDash(r.Path))
		ok = ok && r.Status.OK()
	}
	tw.Flush()
	for _, r := range rows {
		if !r.Status.OK() {
			fmt.Fprintf(w, "%s %s: %s\n", r.Tool, r.Status, r.Fix)
		}
	}
	return ok
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
