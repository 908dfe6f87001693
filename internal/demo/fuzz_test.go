package demo

import (
	"strings"
	"testing"
)

// FuzzSumCounters feeds arbitrary text to the metrics parser: it must not
// panic, and a sum it returns is the sum of the matching sample lines.
func FuzzSumCounters(f *testing.F) {
	for _, seed := range []string{
		"keel_retries_total{a=\"b\"} 3\nkeel_retries_total 4\n",
		"# HELP keel_retries_total x\nkeel_retries_total{} NaN\n",
		"keel_retries_total{a=\"b c\"} 1e3\n",
		"keel_retries_total",
		"keel_retries_total{\n",
		"keel_retries_total 1 1700000000000\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := sumCounters(strings.NewReader(text), "keel_retries_total")
		if err != nil {
			return
		}
		if _, ok := got["keel_retries_total"]; !ok && strings.Contains(text, "keel_retries_total ") && !strings.HasPrefix(strings.TrimSpace(text), "#") {
			// A sample line may still be hidden in a comment line or
			// another metric's prefix; only check the simple case.
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "keel_retries_total ") {
					t.Errorf("line %q was not summed", line)
				}
			}
		}
	})
}
