// Package headless runs Debian's Chromium without a screen, for the tests that check a page
// the way a person sees it (the printed cards, the instructor's dashboard). Without Chromium
// those tests say NOT RUN; CI installs it and sets LABFLEET_REQUIRE_CHROMIUM=1, which turns
// the skip into a failure.
package headless

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Require returns Chromium's path, or skips the test (fails it under
// LABFLEET_REQUIRE_CHROMIUM=1) saying why it cannot run.
func Require(t testing.TB, what string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "NOT RUN (not a pass): no Chromium to " + what + " with (apt-get install chromium)"
		if os.Getenv("LABFLEET_REQUIRE_CHROMIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Run runs Chromium on url with a window of width x height and args (--dump-dom,
// --screenshot=FILE, --print-to-pdf=FILE), and returns what it printed. It is bounded in
// time: on timeout its whole process group (renderer, GPU and zygote processes too) is
// killed. It opens only pages the tests made, so the sandbox, which Chromium cannot use as
// root, is not needed.
func Run(t testing.TB, bin, url string, width, height int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
		"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--window-size=%d,%d", width, height)}, args...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, Tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

// Tail is the last n bytes of s, for a failure message.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
