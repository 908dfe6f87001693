package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	base := flag.String("base", "keel", "implementation that ratios are taken against")
	flag.Parse()
	rows, err := parse(os.Stdin)
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("no benchmark results named BenchmarkPATH/impl=NAME on standard input")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, rows, *base); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// key names one table row.
type key struct{ path, impl string }

// samples holds every run of one benchmark.
type samples struct {
	ns, bytes, allocs []float64
}

// result is one table row: the medians of a benchmark's runs.
type result struct {
	key
	runs                int
	ns, bytes, allocs   float64
	nsMin, nsMax        float64
	hasBytes, hasAllocs bool
}

// parse reads go test -bench output and returns one result per path and
// implementation, in the order they first appear.
func parse(r io.Reader) ([]result, error) {
	var order []key
	all := map[key]*samples{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, s, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		acc, seen := all[k]
		if !seen {
			acc = &samples{}
			all[k] = acc
			order = append(order, k)
		}
		acc.ns = append(acc.ns, s.ns...)
		acc.bytes = append(acc.bytes, s.bytes...)
		acc.allocs = append(acc.allocs, s.allocs...)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]result, 0, len(order))
	for _, k := range order {
		s := all[k]
		out = append(out, result{
			key:       k,
			runs:      len(s.ns),
			ns:        median(s.ns),
			nsMin:     slices.Min(s.ns),
			nsMax:     slices.Max(s.ns),
			bytes:     median(s.bytes),
			allocs:    median(s.allocs),
			hasBytes:  len(s.bytes) > 0,
			hasAllocs: len(s.allocs) > 0,
		})
	}
	return out, nil
}

// parseLine parses one result line such as
//
//	BenchmarkClosedBreaker/impl=keel-2  1000000  25.1 ns/op  0 B/op  0 allocs/op
func parseLine(line string) (key, samples, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return key{}, samples{}, false
	}
	path, impl, ok := strings.Cut(strings.TrimPrefix(f[0], "Benchmark"), "/impl=")
	if !ok || path == "" {
		return key{}, samples{}, false
	}
	if i := strings.LastIndexByte(impl, '-'); i > 0 {
		if _, err := strconv.Atoi(impl[i+1:]); err == nil {
			impl = impl[:i]
		}
	}
	if impl == "" {
		return key{}, samples{}, false
	}
	var s samples
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return key{}, samples{}, false
		}
		switch f[i+1] {
		case "ns/op":
			s.ns = append(s.ns, v)
		case "B/op":
			s.bytes = append(s.bytes, v)
		case "allocs/op":
			s.allocs = append(s.allocs, v)
		}
	}
	if len(s.ns) == 0 {
		return key{}, samples{}, false
	}
	return key{path, impl}, s, true
}

// median returns the median of v, or 0 for an empty v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// write prints rows as a markdown table. The ratio column is each row's ns/op
// divided by the ns/op of the base implementation on the same path.
func write(w io.Writer, rows []result, base string) error {
	baseNs := map[string]float64{}
	for _, r := range rows {
		if r.impl == base {
			baseNs[r.path] = r.ns
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| path | impl | ns/op | ns/op range | B/op | allocs/op | × %s | runs |\n", base)
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		ratio := "pending"
		if bn, ok := baseNs[r.path]; ok {
			switch {
			case r.impl == base:
				ratio = "1.00"
			case bn > 0:
				ratio = strconv.FormatFloat(r.ns/bn, 'f', 2, 64)
			default:
				ratio = "n/a"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s–%s | %s | %s | %s | %d |\n",
			r.path, r.impl, formatNs(r.ns), formatNs(r.nsMin), formatNs(r.nsMax),
			formatCount(r.bytes, r.hasBytes),
			formatCount(r.allocs, r.hasAllocs), ratio, r.runs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatNs(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatCount(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
