package handout

import (
	"embed"
	"fmt"
	"html/template"
	"strings"
)

// AllTeamsFile holds every team's card, one team per printed A4 page. The '_' keeps it apart
// from the teams' own files: team names cannot contain one.
const AllTeamsFile = "all_teams.html"

//go:embed card.html.tmpl
var templateFiles embed.FS

// cardPage is a self-contained page (inline CSS, no script, no external asset), so it opens
// and prints the same from a USB stick in a classroom without network. html/template
// escapes every value from the stack outputs.
var cardPage = template.Must(template.ParseFS(templateFiles, "card.html.tmpl"))

func renderHTML(title string, cards []*card) (string, error) {
	var b strings.Builder
	err := cardPage.ExecuteTemplate(&b, "page", struct {
		Title string
		Cards []*card
	}{title, cards})
	if err != nil {
		return "", fmt.Errorf("rendering the HTML card %q: %w", title, err)
	}
	return b.String(), nil
}
