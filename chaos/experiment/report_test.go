package experiment

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/keelhq/keel/chaos"
)

// svgElements returns the <svg>…</svg> elements of a page.
func svgElements(t *testing.T, page string) []string {
	t.Helper()
	return regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
}

// checkWellFormed parses s as XML to its end.
func checkWellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, s)
		}
	}
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name     string
		percent  float64
		headline string
	}{
		{"held", 5, "Hypothesis held"},
		{"violated", 50, "Hypothesis violated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j *Journal
			synctest.Test(t, func(t *testing.T) {
				x := baseExperiment()
				x.Method[1].Fault.Percent = chaos.Percent(tc.percent)
				j, _ = newTestRunner(t, newFakeWorld(), x).Run(t.Context())
			})
			var b bytes.Buffer
			if err := j.WriteReport(&b); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if !strings.Contains(page, `<div class="big">`+tc.headline+`</div>`) {
				t.Errorf("the verdict %q is not the headline", tc.headline)
			}
			svgs := svgElements(t, page)
			if len(svgs) != 2 {
				t.Fatalf("%d SVG plots, want 2 (success rate, p99)", len(svgs))
			}
			for _, s := range svgs {
				checkWellFormed(t, s)
				if !strings.Contains(s, "<polyline") || !strings.Contains(s, "1. kill -KILL a") || strings.Contains(s, "wait 1s") {
					t.Errorf("a plot lacks its line or the step labels (waits are left out):\n%s", s)
				}
			}
			if n := strings.Count(page, `class="dot-fail"`); (n > 0) != (tc.name == "violated") {
				t.Errorf("%d failed probe dots in a %s run", n, tc.name)
			}
			// Self-contained: nothing is loaded from elsewhere.
			for _, bad := range []string{"<script", "<link", " src=", " href=", "@import", "url("} {
				if strings.Contains(page, bad) {
					t.Errorf("the page contains %q: it must not load anything", bad)
				}
			}
			if got := strings.Count(page, "<tr>"); got != 1+len(j.Probes)+1+len(j.Steps)+1+len(j.Rollbacks) {
				t.Errorf("%d table rows, want a header and a row for each probe, step and rollback", got)
			}
		})
	}
}

func TestReportWithoutLoad(t *testing.T) {
	j := &Journal{Experiment: "nothing ran", Status: StatusFailed, Verdict: "The run failed: <script>alert(1)</script>."}
	var b bytes.Buffer
	if err := j.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, s := range svgElements(t, page) {
		checkWellFormed(t, s)
		if !strings.Contains(s, "no load was sent") {
			t.Errorf("an empty plot does not say so:\n%s", s)
		}
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "Run failed") {
		t.Errorf("the verdict is not escaped, or the headline is missing:\n%s", page)
	}
}
