package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEntrySize(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		fill  int
		want  int
	}{
		{512 << 20, defaultFillRequests, 64 << 10},
		{256 << 20, defaultFillRequests, 32 << 10},
		{1 << 30, defaultFillRequests, 128 << 10},
		{0, defaultFillRequests, 64 << 10},             // no limit: sized as for 512 MB
		{300 << 20, defaultFillRequests, 40 << 10},     // 38.4 KB: the nearest whole page
		{16 << 20, defaultFillRequests, runtimePage},   // never less than one page
		{512 << 20, 2 * defaultFillRequests, 32 << 10}, // the instructor's knob: two runs to fill
	} {
		if got := entrySize(tc.limit, tc.fill); got != tc.want {
			t.Errorf("entrySize(%d MB, %d) = %d, want %d", tc.limit>>20, tc.fill, got, tc.want)
		}
	}
}

// The course's --memory values fill up after about LEAK_FILL_REQUESTS requests: within one
// `ab -n 10000` run, and not in its first half.
func TestCommonLimitsFillWithinOneRun(t *testing.T) {
	for _, mb := range []int64{128, 256, 300, 512, 768, 1024, 1536, 2048} {
		limit := mb << 20
		fillsAfter := limit / int64(entrySize(limit, defaultFillRequests))
		if fillsAfter < 7000 || fillsAfter > 9000 {
			t.Errorf("--memory=%dm fills after %d requests, want about %d", mb, fillsAfter, defaultFillRequests)
		}
	}
}

func TestHistoryKeepsEveryRequestAndCountsVisits(t *testing.T) {
	var h history
	const size = 3 * runtimePage
	visit := func(client string) (int, int, int64) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = client + ":40000"
		return h.record(r, size)
	}
	for i := 1; i <= 3; i++ {
		if n, visits, held := visit("10.0.0.1"); n != i || visits != i-1 || held != int64(i*size) {
			t.Errorf("visit %d of 10.0.0.1: request %d, earlier visits %d, held %d", i, n, visits, held)
		}
	}
	// A client whose address extends another's is a different client.
	if n, visits, _ := visit("10.0.0.10"); n != 4 || visits != 0 {
		t.Errorf("first visit of 10.0.0.10: request %d, earlier visits %d", n, visits)
	}
	for _, e := range h.entries {
		if len(e) != size {
			t.Fatalf("entry of %d bytes, want %d", len(e), size)
		}
		if bytes.IndexByte(e, 0) >= 0 { // a page never written would still be zeros
			t.Fatalf("entry not filled to its last byte: %q", e[:bytes.IndexByte(e, 0)])
		}
	}
}

func TestAccessLogLineIsCombinedLogFormat(t *testing.T) {
	r := httptest.NewRequest("GET", "/?x=1", nil)
	r.Header.Set("User-Agent", "ApacheBench/2.3")
	at := time.Date(2026, 11, 26, 14, 8, 30, 0, time.UTC)
	want := `10.0.0.1 - - [26/Nov/2026:14:08:30 +0000] "GET /?x=1 HTTP/1.1" 200 - "" "ApacheBench/2.3"` + "\n"
	if got := accessLogLine("10.0.0.1", r, at); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestRoutes(t *testing.T) {
	a := &app{entryBytes: runtimePage, fillRequests: defaultFillRequests, limit: 512 << 20, hostname: "h", started: time.Now()}
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %q", path, resp.Status, body)
		}
		return string(body)
	}
	if body := get("/health"); !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("health: %q", body)
	}
	for i := 0; i < 20; i++ {
		get("/")
	}
	if body := get("/"); !strings.HasPrefix(body, "memory-leak-app on h: request 21, your visit 21, holding 0 MB") {
		t.Errorf("body %q", body)
	}
	var stats struct {
		Requests, HeldBytes, LimitBytes, LeakPerReqKB, FillRequests int64
	}
	if err := json.Unmarshal([]byte(get("/stats")), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Requests != 21 || stats.HeldBytes != 21*runtimePage || stats.LimitBytes != 512<<20 || stats.LeakPerReqKB != 8 || stats.FillRequests != defaultFillRequests {
		t.Errorf("stats = %+v", stats)
	}
}

// The fill knob comes from the environment (the course's `docker run -e`) or the flag; a value
// set but wrong stops the app with the setting's name and range instead of giving the default.
func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		env     string // LEAK_FILL_REQUESTS
		args    []string
		want    int
		wantErr string
	}{
		{"", nil, defaultFillRequests, ""},
		{"16000", nil, 16000, ""},
		{"16000", []string{"-fill-requests", "4000"}, 4000, ""}, // the flag wins
		{"0", nil, 0, `LEAK_FILL_REQUESTS is "0": it must be a whole number from 1 to 1000000`},
		{"abc", nil, 0, `LEAK_FILL_REQUESTS is "abc": it must be a whole number from 1 to 1000000`},
		{"2000000", nil, 0, `LEAK_FILL_REQUESTS is "2000000": it must be a whole number from 1 to 1000000`},
		{"", []string{"-fill-requests", "0"}, 0, "-fill-requests is 0: it must be a whole number from 1 to 1000000"},
	} {
		t.Setenv("PORT", "")
		t.Setenv("LEAK_FILL_REQUESTS", tc.env)
		port, fill, err := settings(tc.args)
		if tc.wantErr == "" && (err != nil || fill != tc.want || port != 3000) {
			t.Errorf("LEAK_FILL_REQUESTS=%q %q: port %d, fill %d, %v; want port 3000, fill %d", tc.env, tc.args, port, fill, err, tc.want)
		}
		if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
			t.Errorf("LEAK_FILL_REQUESTS=%q %q: fill %d, %v; want the error %q", tc.env, tc.args, fill, err, tc.wantErr)
		}
	}
	t.Setenv("PORT", "http")
	if _, _, err := settings(nil); err == nil || !strings.Contains(err.Error(), `PORT is "http": it must be a whole number from 1 to 65535`) {
		t.Errorf("PORT=http: %v", err)
	}
}
