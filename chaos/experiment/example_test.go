package experiment_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/keelhq/keel/chaos/experiment"
)

func ExampleRunner() {
	// A service to experiment on, and an invariant it exposes.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ledger" {
			_, _ = io.WriteString(w, `{"duplicates": 0}`)
		}
	}))
	defer srv.Close()

	x := &experiment.Experiment{
		Title: "the service stays up",
		Seed:  42,
		Load:  &experiment.Load{URL: srv.URL + "/items", Rate: 50},
		SteadyState: experiment.SteadyState{
			Window: experiment.Duration(200 * time.Millisecond),
			Probes: []experiment.Probe{
				{Name: "success", Type: experiment.ProbeSuccessRate, Min: 99},
				{Name: "latency", Type: experiment.ProbeLatency, Percentile: 99, Max: experiment.Duration(time.Second)},
				{Name: "no duplicates", Type: experiment.ProbeHTTP, Request: experiment.Request{URL: srv.URL + "/ledger"},
					ExpectJSON: &experiment.JSONExpect{Path: "duplicates", Equals: 0}},
			},
		},
		Method: []experiment.Step{{Type: experiment.StepWait, Duration: experiment.Duration(100 * time.Millisecond)}},
	}
	r, err := experiment.New(experiment.Config{Experiment: x, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	j, err := r.Run(context.Background())
	if err != nil {
		fmt.Println(err)
	}
	_ = j.WriteJSON(io.Discard)   // the journal
	_ = j.WriteReport(io.Discard) // the HTML report
	fmt.Println(j.Status, j.Held, len(j.Probes))
	fmt.Println(j.Verdict)
	// Output:
	// completed true 9
	// The hypothesis held: every probe passed before, during and after the method.
}

func ExampleExperiment_Validate() {
	x := &experiment.Experiment{
		Title:       "typos",
		SteadyState: experiment.SteadyState{Probes: []experiment.Probe{{Name: "p99", Type: experiment.ProbeLatency}}},
		Method:      []experiment.Step{{Type: experiment.StepKill, Service: "api-1"}},
	}
	for _, fe := range experiment.FieldErrors(x.Validate()) {
		fmt.Printf("%s: %s\n", fe.Path, fe.Msg)
	}
	// Output:
	// steady_state.probes[0].max: is required: the highest latency that holds, such as 250ms
	// steady_state.probes[0].type: latency needs load: measures the load's requests
	// method[0].service: "api-1" is not a service of this experiment
}
