package setting

import (
	"strings"
	"testing"
)

func TestIntEnv(t *testing.T) {
	const name = "LABFLEET_SETTING_TEST"
	for _, tc := range []struct {
		value   string
		want    int
		wantErr string
	}{
		{"", 42, ""}, // unset: the default
		{"1", 1, ""},
		{"100", 100, ""},
		{"0", 0, `LABFLEET_SETTING_TEST is "0": it must be a whole number from 1 to 100`},
		{"101", 0, `LABFLEET_SETTING_TEST is "101": it must be a whole number from 1 to 100`},
		{"-5", 0, `is "-5"`},
		{"abc", 0, `LABFLEET_SETTING_TEST is "abc": it must be a whole number from 1 to 100`},
		{"8000 ", 0, `is "8000 "`},
		{"1e3", 0, `is "1e3"`},
	} {
		t.Setenv(name, tc.value)
		got, err := IntEnv(name, 42, 1, 100)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s=%q: %d, %v; want %d", name, tc.value, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s=%q: %d, %v; want an error with %q", name, tc.value, got, err, tc.wantErr)
		}
	}
}

func TestInRange(t *testing.T) {
	if err := InRange("-fill-requests", 8000, 1, 1000000); err != nil {
		t.Error(err)
	}
	want := "-fill-requests is 0: it must be a whole number from 1 to 1000000"
	if err := InRange("-fill-requests", 0, 1, 1000000); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
