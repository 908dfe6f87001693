package experiment

import (
	"github.com/keelhq/keel/chaos"
)

// Experiment is a declarative chaos experiment: the services it starts, the
// traffic it sends, the steady-state hypothesis that must hold, the method
// that tries to disprove it, and the rollbacks that undo the method. It is a
// plain value read from a file (the yaml and json tags name its keys) or
// built in Go; [Experiment.Validate] checks it.
type Experiment struct {
	// Title names the experiment in logs, the journal and the report.
	// Required.
	Title string `json:"title" yaml:"title"`
	// Description says what the experiment shows. Optional.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Seed drives every random choice of the run (the load's idempotency
	// keys). Zero picks one; either way it is logged and journaled.
	Seed uint64 `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Gateway, when set, is the keel gateway whose admin API receives an
	// event (POST /events) for the start and end of the run and for each
	// step, so that they show on its timeline and dashboard. It is also the
	// default gateway of fault and clear_faults steps.
	Gateway *Gateway `json:"gateway,omitempty" yaml:"gateway,omitempty"`
	// Services are processes started, in order, before anything else, and
	// stopped, in reverse order, after the rollbacks. Optional.
	Services []Service `json:"services,omitempty" yaml:"services,omitempty"`
	// Load is the traffic sent for the whole run. Required by the
	// success_rate and latency probes.
	Load *Load `json:"load,omitempty" yaml:"load,omitempty"`
	// SteadyState is the hypothesis.
	SteadyState SteadyState `json:"steady_state" yaml:"steady_state"`
	// Method is the list of steps run in order. Required.
	Method []Step `json:"method" yaml:"method"`
	// Rollbacks run after the method, always: also when a step failed, the
	// hypothesis was violated or the run was interrupted.
	Rollbacks []Step `json:"rollbacks,omitempty" yaml:"rollbacks,omitempty"`
	// FailFast stops the method at the first violated probe. By default the
	// method runs to its end and every violation is recorded.
	FailFast bool `json:"fail_fast,omitempty" yaml:"fail_fast,omitempty"`
}

// Gateway is the admin API of a keel gateway.
type Gateway struct {
	// URL is the admin API's base URL, such as "http://127.0.0.1:9901".
	URL string `json:"url" yaml:"url"`
	// Token is the admin token, sent as a bearer token with changes.
	Token string `json:"token,omitempty" yaml:"token,omitempty"`
}

// Service is a process the experiment runs.
type Service struct {
	// Name identifies the service in kill and restart steps. Required,
	// unique.
	Name string `json:"name" yaml:"name"`
	// Command is the program and its arguments. Required.
	Command []string `json:"command" yaml:"command,flow"`
	// Env adds variables to the environment the process inherits.
	Env map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	// Dir is the working directory; empty means the runner's.
	Dir string `json:"dir,omitempty" yaml:"dir,omitempty"`
	// Ready is a URL polled with GET after the start: the service is ready
	// when it answers 2xx. Empty means ready at once.
	Ready string `json:"ready,omitempty" yaml:"ready,omitempty"`
	// ReadyTimeout bounds the wait for Ready. Zero means 10s.
	ReadyTimeout Duration `json:"ready_timeout,omitempty" yaml:"ready_timeout,omitempty"`
	// StopTimeout is how long a stop waits after SIGTERM before SIGKILL.
	// Zero means 5s.
	StopTimeout Duration `json:"stop_timeout,omitempty" yaml:"stop_timeout,omitempty"`
}

// Load is open-loop traffic at a fixed rate: requests leave on schedule
// whether or not earlier ones have been answered, so a slow system sees
// the load a real one would.
type Load struct {
	// URL is the target. Required.
	URL string `json:"url" yaml:"url"`
	// Method is the HTTP method; empty means GET.
	Method string `json:"method,omitempty" yaml:"method,omitempty"`
	// Rate is the number of requests per second, in (0, 10000]. Required.
	Rate float64 `json:"rate" yaml:"rate"`
	// Body is the request body, if any.
	Body string `json:"body,omitempty" yaml:"body,omitempty"`
	// Headers are added to every request.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// IdempotencyKeys sends a fresh Idempotency-Key with each request,
	// drawn from the experiment's seeded generator.
	IdempotencyKeys bool `json:"idempotency_keys,omitempty" yaml:"idempotency_keys,omitempty"`
	// Timeout bounds each request. Zero means 2s.
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// MaxInFlight caps the requests waiting for an answer; a request due
	// while the cap is reached is not sent and counts as an error. Zero
	// means 1024.
	MaxInFlight int `json:"max_in_flight,omitempty" yaml:"max_in_flight,omitempty"`
}

// SteadyState is the hypothesis: every probe holds before the method,
// after each of its steps, and after it.
type SteadyState struct {
	// Window is the stretch of load results the load probes look at: the
	// requests answered (or failed) in the last Window. Zero means 3s.
	// Before the method, the runner sends load for one Window first.
	Window Duration `json:"window,omitempty" yaml:"window,omitempty"`
	// Probes are the checks. At least one is required.
	Probes []Probe `json:"probes" yaml:"probes"`
}

// ProbeType is what a [Probe] measures.
type ProbeType string

// The probe types.
const (
	// ProbeSuccessRate holds when the share of the window's load requests
	// answered 2xx or 3xx is at least Min.
	ProbeSuccessRate ProbeType = "success_rate"
	// ProbeLatency holds when the Percentile of the window's load request
	// durations (successful or not) is at most Max.
	ProbeLatency ProbeType = "latency"
	// ProbeHTTP sends one request and holds when the answer matches
	// ExpectStatus, ExpectBodyContains and ExpectJSON: a custom invariant.
	ProbeHTTP ProbeType = "http"
)

// Probe is one check of the hypothesis.
type Probe struct {
	// Name identifies the probe in the journal. Required, unique.
	Name string `json:"name" yaml:"name"`
	// Type is what it measures. Required.
	Type ProbeType `json:"type" yaml:"type"`

	// Min is the lowest success rate that holds (success_rate).
	Min Percent `json:"min,omitempty" yaml:"min,omitempty"`
	// Percentile is the latency percentile (latency); zero means 99%.
	Percentile Percent `json:"percentile,omitempty" yaml:"percentile,omitempty"`
	// Max is the highest latency that holds (latency). Required there.
	Max Duration `json:"max,omitempty" yaml:"max,omitempty"`

	// Request is the request of an http probe.
	Request `yaml:",inline"`
	// ExpectStatus is the status an http probe wants; zero means any 2xx.
	ExpectStatus int `json:"expect_status,omitempty" yaml:"expect_status,omitempty"`
	// ExpectBodyContains, when set, must occur in the body.
	ExpectBodyContains string `json:"expect_body_contains,omitempty" yaml:"expect_body_contains,omitempty"`
	// ExpectJSON, when set, checks one value of a JSON body.
	ExpectJSON *JSONExpect `json:"expect_json,omitempty" yaml:"expect_json,omitempty"`
}

// Request is an HTTP request of a probe or a step.
type Request struct {
	// Method is the HTTP method; empty means GET, or POST with a body.
	Method string `json:"method,omitempty" yaml:"method,omitempty"`
	// URL is the target. Required.
	URL string `json:"url,omitempty" yaml:"url,omitempty"`
	// Body is the request body.
	Body string `json:"body,omitempty" yaml:"body,omitempty"`
	// Headers are added to the request.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Timeout bounds the request; zero means 5s.
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// JSONExpect checks one value of a JSON body: the value at Path (keys
// separated by dots; a number indexes an array, as in "items.0.id") must
// equal Equals, compared as JSON values.
type JSONExpect struct {
	Path   string `json:"path" yaml:"path"`
	Equals any    `json:"equals" yaml:"equals"`
}

// StepType is what a [Step] does.
type StepType string

// The step types.
const (
	// StepFault adds Fault to a gateway (POST /faults). The fault is
	// removed again at rollback, whatever happens.
	StepFault StepType = "fault"
	// StepClearFaults removes every fault of a gateway (DELETE /faults).
	StepClearFaults StepType = "clear_faults"
	// StepWait waits Duration.
	StepWait StepType = "wait"
	// StepKill sends Signal to Service (its whole process group) or to the
	// process whose pid is in PIDFile.
	StepKill StepType = "kill"
	// StepRestart stops Service if it runs (SIGTERM, then SIGKILL after
	// its StopTimeout), starts it again and waits until it is ready.
	StepRestart StepType = "restart"
	// StepPartition disables Proxy on a TCP fault proxy (keel chaos proxy
	// or Toxiproxy) at ProxyAPI: its port refuses connections and its open
	// connections close. It is healed at rollback, whatever happens.
	StepPartition StepType = "partition"
	// StepHeal enables Proxy again.
	StepHeal StepType = "heal"
	// StepHTTP sends a request and fails unless the answer has
	// ExpectStatus (zero: any 2xx).
	StepHTTP StepType = "http"
)

// Step is one action of the method or the rollbacks. Type says which other
// fields apply.
type Step struct {
	// Name labels the step in the journal and the report; empty means a
	// description built from its fields.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Type is what the step does. Required.
	Type StepType `json:"type" yaml:"type"`

	// Gateway and Token address a gateway's admin API (fault,
	// clear_faults); empty means the experiment's Gateway.
	Gateway string `json:"gateway,omitempty" yaml:"gateway,omitempty"`
	Token   string `json:"token,omitempty" yaml:"token,omitempty"`
	// Fault is the fault to add (fault).
	Fault *chaos.Fault `json:"fault,omitempty" yaml:"fault,omitempty"`

	// Duration is how long to wait (wait).
	Duration Duration `json:"duration,omitempty" yaml:"duration,omitempty"`

	// Service names a service of the experiment (kill, restart).
	Service string `json:"service,omitempty" yaml:"service,omitempty"`
	// PIDFile names a file holding the pid to signal (kill).
	PIDFile string `json:"pidfile,omitempty" yaml:"pidfile,omitempty"`
	// Signal is KILL (the default), TERM, INT, QUIT, HUP, USR1, USR2, STOP
	// or CONT (kill). A SIGKILL step ends once the process is gone.
	Signal string `json:"signal,omitempty" yaml:"signal,omitempty"`

	// ProxyAPI is the base URL of a Toxiproxy-compatible control API and
	// Proxy the name of a proxy there (partition, heal).
	ProxyAPI string `json:"proxy_api,omitempty" yaml:"proxy_api,omitempty"`
	Proxy    string `json:"proxy,omitempty" yaml:"proxy,omitempty"`

	// Request is the request of an http step.
	Request `yaml:",inline"`
	// ExpectStatus is the status an http step wants; zero means any 2xx.
	ExpectStatus int `json:"expect_status,omitempty" yaml:"expect_status,omitempty"`
}
