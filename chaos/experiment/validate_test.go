package experiment

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/chaos"
)

func TestValidate(t *testing.T) {
	if err := (&Experiment{}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty experiment: %v, want ErrInvalid", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Experiment)
		want   []string // "path: message"
	}{
		{"valid", func(*Experiment) {}, nil},
		{"empty", func(x *Experiment) { *x = Experiment{} }, []string{
			"title: is required",
			"steady_state.probes: is required: at least one probe",
			"method: is required: at least one step",
		}},
		{"services", func(x *Experiment) {
			x.Services = append(x.Services, Service{Name: "a"}, Service{Name: "no spaces", Command: []string{"x"}, Ready: "ftp://x", StopTimeout: -1})
		}, []string{
			`services[2].name: "a" is defined twice`,
			"services[2].command: is required: the program and its arguments",
			`services[3].name: "no spaces": use letters, digits, '_', '.' and '-'`,
			`services[3].ready: "ftp://x": want an http:// or https:// URL with a host`,
			"services[3].stop_timeout: -1ns: want a positive duration",
		}},
		{"load", func(x *Experiment) { x.Load = &Load{URL: "gw/items", Method: "get", Rate: 20000, MaxInFlight: -1} }, []string{
			`load.url: "gw/items": want an http:// or https:// URL with a host`,
			`load.method: "get": want an upper-case HTTP method such as GET or POST`,
			"load.rate: 20000: want requests per second in (0, 10000]",
			"load.max_in_flight: -1 is negative",
		}},
		{"load probes without load", func(x *Experiment) { x.Load = nil }, []string{
			"steady_state.probes[0].type: success_rate needs load: measures the load's requests",
			"steady_state.probes[1].type: latency needs load: measures the load's requests",
		}},
		{"probes", func(x *Experiment) {
			x.SteadyState.Window = Duration(time.Millisecond)
			x.SteadyState.Probes = []Probe{
				{Name: "s", Type: ProbeSuccessRate, Min: 101, Max: Duration(time.Second)},
				{Name: "s", Type: ProbeLatency, Percentile: 120},
				{Name: "h", Type: ProbeHTTP, Min: 50, ExpectStatus: 99, ExpectJSON: &JSONExpect{}},
				{Type: "ping"},
			}
		}, []string{
			"steady_state.window: 1ms: want at least 100ms (zero means 3s)",
			"steady_state.probes[0].max: does not apply to success_rate probes",
			"steady_state.probes[0].min: 101%: want a percentage in (0%, 100%]",
			`steady_state.probes[1].name: "s" is defined twice`,
			"steady_state.probes[1].percentile: 120%: want a percentage in (0%, 100%]",
			"steady_state.probes[1].max: is required: the highest latency that holds, such as 250ms",
			"steady_state.probes[2].min: does not apply to http probes",
			"steady_state.probes[2].url: is required",
			"steady_state.probes[2].expect_status: 99: want a status in [100, 599]",
			"steady_state.probes[2].expect_json.path: is required",
			"steady_state.probes[3].name: is required",
			`steady_state.probes[3].type: "ping" is not one of success_rate, latency, http`,
		}},
		{"steps", func(x *Experiment) {
			x.Gateway = nil
			x.Method = []Step{
				{Type: StepFault},
				{Type: StepFault, Gateway: "http://gw", Fault: &chaos.Fault{Kind: "smoke"}, Duration: Duration(time.Second)},
				{Type: StepWait},
				{Type: StepKill},
				{Type: StepKill, Service: "zz", Signal: "NINE"},
				{Type: StepKill, Service: "a", PIDFile: "a.pid"},
				{Type: StepRestart, Service: "zz"},
				{Type: StepPartition, ProxyAPI: "http://proxy"},
				{Type: StepHTTP, Request: Request{URL: "http://x", Method: "POST"}, ExpectStatus: 700},
				{Type: "explode"},
				{},
			}
			x.Rollbacks = []Step{{Type: StepClearFaults}}
		}, []string{
			"method[0].gateway: is required (or set the experiment's gateway): the admin API's URL",
			"method[0].fault: is required: the fault to add, such as {kind: error, status: 503, percent: 30}",
			"method[1].duration: does not apply to fault steps",
			`method[1].fault: Fault.Kind "smoke" is not one of latency, error, abort, timeout, bandwidth`,
			"method[2].duration: is required: how long to wait, such as 3s",
			"method[3].service: is required (or pidfile): what to signal",
			`method[4].service: "zz" is not a service of this experiment`,
			`method[4].signal: "NINE" is not one of KILL, TERM, INT, QUIT, HUP, USR1, USR2, STOP, CONT`,
			"method[5].pidfile: give service or pidfile, not both",
			`method[6].service: "zz" is not a service of this experiment`,
			"method[7].proxy: is required: the name of the proxy",
			"method[8].expect_status: 700: want a status in [100, 599]",
			`method[9].type: "explode" is not one of fault, clear_faults, wait, kill, restart, partition, heal, http`,
			"method[10].type: is required: fault, clear_faults, wait, kill, restart, partition, heal or http",
			"rollbacks[0].gateway: is required (or set the experiment's gateway): the admin API's URL",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := baseExperiment()
			tc.change(&x)
			var got []string
			for _, fe := range FieldErrors(x.Validate()) {
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldErrorMatches(t *testing.T) {
	x := baseExperiment()
	x.Title = ""
	err := x.Validate()
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "experiment: title: is required") {
		t.Errorf("Validate: %v, want ErrInvalid naming title", err)
	}
	if _, err := New(Config{Experiment: &x}); !errors.Is(err, ErrInvalid) {
		t.Errorf("New: %v, want ErrInvalid", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("New with no experiment: %v, want ErrInvalid", err)
	}
}
