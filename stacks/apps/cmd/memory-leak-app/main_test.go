package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEveryRequestKeepsMemory(t *testing.T) {
	l := &leaker{perReq: 64 << 10, hostname: "h", started: time.Now()}
	srv := httptest.NewServer(l.routes())
	defer srv.Close()
	for i := 0; i < 20; i++ {
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "memory-leak-app on h") {
			t.Fatalf("body %q", body)
		}
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats["requests"].(float64) != 20 || stats["heldBytes"].(float64) != 20*64<<10 {
		t.Errorf("stats = %v", stats)
	}
	if resp, err := http.Get(srv.URL + "/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("health: %v %v", resp, err)
	}
}
