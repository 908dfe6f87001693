package experiment

import (
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// Status is how a run ended.
type Status string

// The statuses of a run.
const (
	// StatusCompleted: the method ran to its end. The hypothesis may still
	// have been violated: see Journal.Deviated.
	StatusCompleted Status = "completed"
	// StatusFailed: a step of the method failed, or a service did not start.
	StatusFailed Status = "failed"
	// StatusAborted: the hypothesis did not hold before the method, or
	// FailFast stopped the method at a violation.
	StatusAborted Status = "aborted"
	// StatusInterrupted: the run's context ended (SIGINT).
	StatusInterrupted Status = "interrupted"
)

// The phases in which probes run.
const (
	PhaseBefore = "before"
	PhaseDuring = "during"
	PhaseAfter  = "after"
)

// Journal records a run: what was done, what was measured, and the verdict.
// It is written as JSON (WriteJSON) and rendered as HTML (WriteReport).
type Journal struct {
	Experiment  string    `json:"experiment"`
	Description string    `json:"description,omitempty"`
	Seed        uint64    `json:"seed"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      Status    `json:"status"`
	// Deviated is true when a probe failed during or after the method.
	Deviated bool `json:"deviated"`
	// Held is true when the run completed and every probe held: the
	// hypothesis survived.
	Held bool `json:"held"`
	// Verdict says the outcome in one sentence, and where it went wrong.
	Verdict string `json:"verdict"`
	// Error is the error that ended the run early, if any.
	Error string `json:"error,omitempty"`

	// Load describes the traffic; Series is its per-second account.
	Load   *LoadSummary `json:"load,omitempty"`
	Series []Second     `json:"series"`
	// Steps are the method's steps, in order, as far as they ran.
	Steps []StepRecord `json:"steps"`
	// Probes are every probe evaluation, in order.
	Probes []ProbeRecord `json:"probes"`
	// Rollbacks are the rollback steps and the automatic undoing of the
	// method's faults and partitions.
	Rollbacks []StepRecord `json:"rollbacks"`
}

// LoadSummary counts the load's requests.
type LoadSummary struct {
	URL      string  `json:"url"`
	Method   string  `json:"method"`
	Rate     float64 `json:"rate"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	// Dropped counts requests not sent because MaxInFlight was reached
	// (they are also errors).
	Dropped int `json:"dropped"`
}

// Second is one second of load, by the time requests were sent.
type Second struct {
	Time     time.Time `json:"time"`
	Requests int       `json:"requests"`
	Errors   int       `json:"errors"`
	// P50MS and P99MS are the median and 99th-percentile durations of the
	// second's requests, in milliseconds.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
}

// StepRecord is one step as it ran.
type StepRecord struct {
	Index int      `json:"index"`
	Type  StepType `json:"type"`
	// Name is the step's name, or a description built from its fields.
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Status is "ok", "failed" or "skipped".
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Detail says what the step did (the fault's ID, the pid signaled).
	Detail string `json:"detail,omitempty"`
	// Automatic marks rollbacks the runner added itself.
	Automatic bool `json:"automatic,omitempty"`
}

// ProbeRecord is one evaluation of one probe.
type ProbeRecord struct {
	Phase string `json:"phase"`
	// Step is the index of the method step after which the probe ran
	// (phase "during"), or -1.
	Step  int       `json:"step"`
	Probe string    `json:"probe"`
	Type  ProbeType `json:"type"`
	Time  time.Time `json:"time"`
	// Value is what was measured: a success rate in percent, a latency in
	// milliseconds, or an HTTP status.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Threshold is the condition, such as ">= 99%" or "<= 250ms".
	Threshold string `json:"threshold"`
	OK        bool   `json:"ok"`
	// Detail explains the value (request counts, a body mismatch).
	Detail string `json:"detail,omitempty"`
}

// ValueString returns the value with its unit: "99.5%", "12.3ms", "status 503".
func (p ProbeRecord) ValueString() string {
	v := strconv.FormatFloat(p.Value, 'f', -1, 64)
	switch p.Unit {
	case "status":
		if p.Value == 0 {
			return "no answer"
		}
		return "status " + v
	case "%", "ms":
		return v + p.Unit
	}
	return v + " " + p.Unit
}

// WriteJSON writes j as indented JSON.
func (j *Journal) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}
