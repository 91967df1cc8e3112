package model_test

import (
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

func TestParseTable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0 for an error
	}{
		{"", 254},
		{"main", 254},
		{"local", 255},
		{"default", 253},
		{"100", 100},
		{"1", 1},
		{"0", 0},
		{"-1", 0},
		{"abc", 0},
		{"Main", 0},
		{"1.5", 0},
		{"4294967295", 4294967295},
		{"4294967296", 0}, // would wrap to table 0
	} {
		got, err := model.ParseTable(tc.in)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("ParseTable(%q) = %d, want an error", tc.in, got)
		case tc.want == 0:
			if !strings.Contains(err.Error(), "neither main, local, default nor a positive number") {
				t.Errorf("ParseTable(%q) error %q does not say what is allowed", tc.in, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ParseTable(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
