// Package setting reads the apps' numeric settings from the environment strictly: a value
// that is set but wrong stops the app at start with the setting's name and allowed range,
// instead of being ignored for a default the student never sees.
package setting

import (
	"fmt"
	"os"
	"strconv"
)

// IntEnv returns environment variable name as a whole number from lo to hi, or def when
// it is unset or empty. Any other value is an error naming the variable and the range.
func IntEnv(name string, def, lo, hi int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, outOfRange(name, strconv.Quote(s), lo, hi)
	}
	return v, nil
}

// InRange returns an error naming setting name when v is not from lo to hi.
func InRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return outOfRange(name, strconv.Itoa(v), lo, hi)
	}
	return nil
}

func outOfRange(name, value string, lo, hi int) error {
	return fmt.Errorf("%s is %s: it must be a whole number from %d to %d", name, value, lo, hi)
}
