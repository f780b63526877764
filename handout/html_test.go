package handout

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labfleet/labfleet/model/plan"
)

const keyHeader = "BEGIN OPENSSH PRIVATE KEY"

func TestHTMLCardSaysWhatTheMarkdownCardSays(t *testing.T) {
	files, err := Files(sample())
	if err != nil {
		t.Fatal(err)
	}
	page := files["red.html"]
	for _, want := range []string{
		"<title>Team red: lab access</title>", "<h1>Team red</h1>", "@page { size: A4;",
		"<pre>chmod 600 red.key\nssh -F red.ssh_config red-m1</pre>",
		`<tr><td><code>red-w1</code> <span class="role-worker">worker</span></td><td><code>172.30.0.11</code></td><td><code>ssh -i red.key -p 2201 student@lab.example.org</code></td></tr>`,
		"<pre>Host red-m1\n  Port 2200\nHost red-w1\n  Port 2201\n</pre><pre>Host red-m1 red-w1\n  HostName lab.example.org\n",
		"<li><code>curl http://172.30.0.10:8090/</code></li>",
		"Your kind cluster <code>red</code> runs on <code>red-m1</code>", "API server <code>https://172.30.0.10:6443</code>", "a copy is <code>red.kubeconfig</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML card lacks %q:\n%s", want, page)
		}
	}
	// Self-contained: it prints from a USB stick in a classroom without network.
	if m := regexp.MustCompile(`<script|<link|src=|url\(`).FindString(page); m != "" {
		t.Errorf("the card loads something (%q); it must be self-contained", m)
	}
}

func TestHTMLCardEscapesTheOutputs(t *testing.T) {
	o := sample()
	red := o.Teams["red"]
	red.Nodes[1].Name = `red-w1"><script>alert(1)</script>`
	red.AppURLs = []string{"http://172.30.0.10:8090/?a=1&b=<2>"}
	o.Teams["red"] = red
	files, err := Files(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"red.html", AllTeamsFile} {
		page := files[name]
		if strings.Contains(page, "<script>") || strings.Contains(page, "b=<2>") {
			t.Errorf("%s: an output's value went into the page unescaped:\n%s", name, page)
		}
		for _, want := range []string{"<code>red-w1&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code>", "Host red-w1&#34;&gt;&lt;script&gt;", "curl http://172.30.0.10:8090/?a=1&amp;b=&lt;2&gt;"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks the escaped %q", name, want)
			}
		}
	}
}

func TestHTMLCardsCarryKeysOnlyWhenAskedAndThenWarn(t *testing.T) {
	plain, err := Files(sample())
	if err != nil {
		t.Fatal(err)
	}
	withKeys, err := Files(sample(), KeysOnCards)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"red.html", AllTeamsFile} {
		if strings.Contains(plain[name], keyHeader) || strings.Contains(plain[name], `class="warning"`) {
			t.Errorf("%s by default: has the key or a key warning:\n%s", name, plain[name])
		}
		page := withKeys[name]
		warning := strings.Index(page, `<p class="warning">Warning: this card holds team red's private SSH key.`)
		key := strings.Index(page, "<pre class=\"key\">-----"+keyHeader+"-----\n...</pre>")
		if warning < 0 || key < 0 || warning > key {
			t.Errorf("%s with keys: want the warning at the top and the key below it:\n%s", name, page)
		}
	}
	// The key's own file is there either way; only the cards change.
	if plain["red.key"] != withKeys["red.key"] || plain["red.md"] != withKeys["red.md"] {
		t.Error("KeysOnCards changed more than the HTML cards")
	}
}

func TestAllTeamsFileHasOneCardPerTeamInOrder(t *testing.T) {
	o := sample()
	for _, name := range []string{"blue", "green"} {
		o.Teams[name] = o.Teams["red"]
		o.StudentKeys[name] = "KEY"
	}
	files, err := Files(o)
	if err != nil {
		t.Fatal(err)
	}
	cards := regexp.MustCompile(`<section class="card" id="team-([a-z]+)">`)
	if got := cards.FindAllStringSubmatch(files[AllTeamsFile], -1); len(got) != 3 ||
		got[0][1] != "blue" || got[1][1] != "green" || got[2][1] != "red" {
		t.Errorf("%s: cards %v, want blue, green, red", AllTeamsFile, got)
	}
	for _, name := range []string{"blue", "green", "red"} {
		if got := cards.FindAllStringSubmatch(files[name+".html"], -1); len(got) != 1 || got[0][1] != name {
			t.Errorf("%s.html: cards %v", name, got)
		}
	}
}

// The all-teams page lists the cohort in its order, as status does (by first SSH port):
// team2 before team10, not the alphabet's team1, team10, team11, team2.
func TestAllTeamsInTheCohortsOrder(t *testing.T) {
	cfg := plan.Defaults("order")
	cfg.Teams = 11
	o := cohortOutputs(t, cfg)
	var want []string
	for i := 1; i <= 11; i++ {
		want = append(want, fmt.Sprintf("team%d", i))
	}
	if got := o.TeamNames(); !slices.Equal(got, want) {
		t.Errorf("TeamNames() = %v, want %v", got, want)
	}
	files, err := Files(o)
	if err != nil {
		t.Fatal(err)
	}
	var onPage []string
	for _, m := range regexp.MustCompile(`<section class="card" id="team-(\w+)">`).FindAllStringSubmatch(files[AllTeamsFile], -1) {
		onPage = append(onPage, m[1])
	}
	if !slices.Equal(onPage, want) {
		t.Errorf("%s lists %v, want %v", AllTeamsFile, onPage, want)
	}
}
