package netfault

import "testing"

func TestIsEntering(t *testing.T) {
	const ns = "keel-7-1-x-h"
	tests := []struct {
		cmdline string
		want    bool
	}{
		{"/usr/sbin/ip\x00netns\x00exec\x00keel-7-1-x-h\x00sleep\x0060\x00", true},
		{"ip\x00netns\x00exec\x00keel-7-1-x-h\x00sh\x00", true},
		{"/usr/sbin/ip\x00netns\x00exec\x00keel-7-1-x-h2\x00sleep\x00", false}, // another host
		{"/usr/sbin/ip\x00netns\x00pids\x00keel-7-1-x-h\x00", false},
		{"sleep\x0060\x00", false},
		{"/bin/zip\x00netns\x00exec\x00keel-7-1-x-h\x00", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isEntering([]byte(tt.cmdline), ns); got != tt.want {
			t.Errorf("isEntering(%q) = %v, want %v", tt.cmdline, got, tt.want)
		}
	}
}
