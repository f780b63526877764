package handout

// The cards checked the way they will be printed: headless Chromium (Debian's chromium
// package, through internal/headless) renders them to PDF and PNG.

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/internal/headless"
	"github.com/labfleet/labfleet/model/outputs"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
	"github.com/labfleet/labfleet/stacks/day3"
)

var writeDocsCard = flag.Bool("docs-card", false, "write docs/card.png, the README's card screenshot, from a sample cohort")

// The screen the PNGs are taken on: an A4 sheet (210 mm = 794 px) with some room around it.
const screenWidth, screenHeight = 860, 1180

func requireChromium(t *testing.T) string { return headless.Require(t, "print the cards") }

// chromium renders a page of the test's on the A4-sized screen.
func chromium(t *testing.T, bin, page string, args ...string) []byte {
	t.Helper()
	return headless.Run(t, bin, "file://"+page, screenWidth, screenHeight, args...)
}

var (
	pdfPageObject = regexp.MustCompile(`/Type\s*/Page\b`)
	pdfPageCount  = regexp.MustCompile(`/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b`)
)

// pdfPages counts a PDF's pages twice, by its page objects and by its page tree's own count,
// and trusts the number only when both agree (Chromium writes both as plain text).
func pdfPages(pdf []byte) (int, error) {
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return 0, fmt.Errorf("not a PDF")
	}
	objects := len(pdfPageObject.FindAll(pdf, -1))
	counts := pdfPageCount.FindAllSubmatch(pdf, -1)
	total := 0
	for _, m := range counts { // the root of the page tree counts them all
		n, _ := strconv.Atoi(string(m[1]) + string(m[2]))
		total = max(total, n)
	}
	if objects == 0 || objects != total {
		return 0, fmt.Errorf("%d page objects, but the page tree counts %d", objects, total)
	}
	return objects, nil
}

func printPDF(t *testing.T, bin, page string) int {
	t.Helper()
	pdf := strings.TrimSuffix(page, ".html") + ".pdf"
	chromium(t, bin, page, "--print-to-pdf="+pdf)
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	n, err := pdfPages(b)
	if err != nil {
		t.Fatalf("%s: %v", pdf, err)
	}
	return n
}

func screenshot(t *testing.T, bin, page string) image.Image {
	t.Helper()
	file := strings.TrimSuffix(page, ".html") + ".png"
	chromium(t, bin, page, "--screenshot="+file, "--hide-scrollbars")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if b := img.Bounds(); b.Dx() != screenWidth || b.Dy() != screenHeight {
		t.Fatalf("%s is %v, want %dx%d", file, b, screenWidth, screenHeight)
	}
	return img
}

// cohortOutputs is what the program exports for a cohort after a day-3 run with the Day-2
// stack, built from its plan with a throwaway key seed.
func cohortOutputs(t *testing.T, cfg plan.Config) outputs.Outputs {
	t.Helper()
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sshkeys.New("a throwaway seed: these keys are published with the tests", cfg.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	o := outputs.Outputs{Teams: map[string]outputs.Team{}, StudentKeys: map[string]string{}, Kubeconfigs: map[string]string{}}
	for _, team := range p.Teams {
		kind, err := day3.Render(p.Day3, team)
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		for _, n := range team.Nodes {
			urls = append(urls, fmt.Sprintf("http://%s:%d/", n.IP, p.Day2.Port))
		}
		o.Teams[team.Name] = outputs.Team{Nodes: outputs.NodesFor(p, team, keys), SSHUser: p.SSHUser, Network: team.Subnet.String(),
			AppURLs: urls, RoutingMesh: string(plan.MeshHost),
			Kind: map[string]string{"state": "running", "cluster": kind.ClusterName, "hostNode": kind.HostNode, "apiServer": kind.APIServer}}
		o.StudentKeys[team.Name] = keys.Student(team.Name).PrivateKeyPEM("")
		o.Kubeconfigs[team.Name] = "apiVersion: v1\nkind: Config\n"
	}
	return o
}

func day3Cohort(teams []string, managers, workers int, publicHost string) plan.Config {
	cfg := plan.Defaults("cards")
	cfg.Teams, cfg.TeamNames, cfg.Managers, cfg.Workers = len(teams), teams, managers, workers
	cfg.PublicHost, cfg.Day, cfg.Privilege, cfg.NodeMemory = publicHost, 3, "privileged", "3g"
	return cfg
}

func writeFiles(t *testing.T, o outputs.Outputs, opts ...Option) string {
	t.Helper()
	files, err := Files(o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The longest card a cohort realistically prints: 4 nodes, the longest team names (20
// characters), a long public host name, the Day-2 app on every node, the Day-3 cluster and
// the private key.
func TestEveryCardPrintsOnOneA4Page(t *testing.T) {
	bin := requireChromium(t)
	teams := []string{"kubernetes-rangers-1", "kubernetes-rangers-2", "kubernetes-rangers-3"}
	o := cohortOutputs(t, day3Cohort(teams, 3, 1, "docker-lab-07.classroom-b.informatik.example-university.org"))
	dir := writeFiles(t, o, KeysOnCards)

	start := time.Now()
	if n := printPDF(t, bin, filepath.Join(dir, AllTeamsFile)); n != len(teams) {
		t.Errorf("%s prints on %d pages, want one per team (%d)", AllTeamsFile, n, len(teams))
	}
	if n := printPDF(t, bin, filepath.Join(dir, teams[0]+".html")); n != 1 {
		t.Errorf("%s.html prints on %d pages, want 1", teams[0], n)
	}
	t.Logf("MEASURE two PDFs printed by chromium in %s", time.Since(start).Round(time.Millisecond))

	// Nothing sticks out of a sheet sideways either (a long unbreakable line would be cut
	// off or shrink the whole page on paper): measured on screen, where a card is as wide
	// as an A4 sheet.
	check := filepath.Join(dir, "overflow-check.html")
	page, err := os.ReadFile(filepath.Join(dir, AllTeamsFile))
	if err != nil {
		t.Fatal(err)
	}
	measure := `<script>document.body.dataset.overflow = [...document.querySelectorAll(".card")]` +
		`.filter(c => c.scrollWidth > c.clientWidth).map(c => c.id).join(" ") || "none";</script></body>`
	if err := os.WriteFile(check, bytes.Replace(page, []byte("</body>"), []byte(measure), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	dom := chromium(t, bin, check, "--dump-dom")
	m := regexp.MustCompile(`data-overflow="([^"]*)"`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the overflow measurement did not run:\n%s", headless.Tail(string(dom), 2000))
	}
	if string(m[1]) != "none" {
		t.Errorf("cards wider than their A4 sheet: %s", m[1])
	}
}

// The key warning is not only in the HTML but visible: the rendered card shows its red box,
// which a card without the key does not.
func TestTheKeyWarningShowsOnTheRenderedCard(t *testing.T) {
	bin := requireChromium(t)
	o := cohortOutputs(t, day3Cohort([]string{"team1"}, 1, 2, "lab.example.org"))
	plain := screenshot(t, bin, filepath.Join(writeFiles(t, o), "team1.html"))
	withKey := screenshot(t, bin, filepath.Join(writeFiles(t, o, KeysOnCards), "team1.html"))
	if text := darkPixels(plain); text < 5000 { // about 11,000 with today's card
		t.Errorf("the card without key looks blank: %d dark pixels", text)
	}
	if red := warningPixels(plain); red != 0 {
		t.Errorf("the card without key shows %d pixels of warning red", red)
	}
	if red := warningPixels(withKey); red < 1000 {
		t.Errorf("the card with the key shows only %d pixels of warning red", red)
	}
	if *writeDocsCard {
		writePNG(t, plain, filepath.Join("..", "docs", "card.png"))
	}
}

func writePNG(t *testing.T, img image.Image, file string) {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KB)", file, b.Len()/1024)
}

func darkPixels(img image.Image) int {
	return countPixels(img, func(r, g, b uint32) bool { return r < 0x6000 && g < 0x6000 && b < 0x6000 })
}

// warningPixels counts the warning box's border colour (#b00020).
func warningPixels(img image.Image) int {
	return countPixels(img, func(r, g, b uint32) bool { return r > 0x9000 && r < 0xd000 && g < 0x2000 && b < 0x4000 })
}

func countPixels(img image.Image, match func(r, g, b uint32) bool) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if match(r, g, b) {
				n++
			}
		}
	}
	return n
}
