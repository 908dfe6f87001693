package experiment

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Defaults of the zero values.
const (
	DefaultWindow       = Duration(3e9)
	DefaultReadyTimeout = Duration(10e9)
	DefaultStopTimeout  = Duration(5e9)
	DefaultLoadTimeout  = Duration(2e9)
	DefaultHTTPTimeout  = Duration(5e9)
	DefaultMaxInFlight  = 1024
	DefaultPercentile   = Percent(99)
	// MaxRate is the highest load rate.
	MaxRate = 10000
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	methodRE = regexp.MustCompile(`^[A-Z]+$`)
)

// errs collects field errors.
type errs []error

func (l *errs) add(path, format string, args ...any) {
	*l = append(*l, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate reports every invalid field, as *FieldError values joined with
// errors.Join (see [FieldErrors]), or nil. Every error matches [ErrInvalid].
func (x *Experiment) Validate() error {
	var l errs
	if strings.TrimSpace(x.Title) == "" {
		l.add("title", "is required")
	}
	if g := x.Gateway; g != nil {
		checkURL(&l, "gateway.url", g.URL)
	}
	services := map[string]bool{}
	for i := range x.Services {
		s := &x.Services[i]
		p := fmt.Sprintf("services[%d]", i)
		switch {
		case s.Name == "":
			l.add(p+".name", "is required")
		case !nameRE.MatchString(s.Name):
			l.add(p+".name", "%q: use letters, digits, '_', '.' and '-'", s.Name)
		case services[s.Name]:
			l.add(p+".name", "%q is defined twice", s.Name)
		}
		services[s.Name] = true
		if len(s.Command) == 0 || s.Command[0] == "" {
			l.add(p+".command", "is required: the program and its arguments")
		}
		if s.Ready != "" {
			checkURL(&l, p+".ready", s.Ready)
		}
		checkPositive(&l, p+".ready_timeout", s.ReadyTimeout, true)
		checkPositive(&l, p+".stop_timeout", s.StopTimeout, true)
	}
	if ld := x.Load; ld != nil {
		checkURL(&l, "load.url", ld.URL)
		checkMethod(&l, "load.method", ld.Method)
		if !(ld.Rate > 0 && ld.Rate <= MaxRate) {
			l.add("load.rate", "%v: want requests per second in (0, %d]", ld.Rate, MaxRate)
		}
		checkPositive(&l, "load.timeout", ld.Timeout, true)
		if ld.MaxInFlight < 0 {
			l.add("load.max_in_flight", "%d is negative", ld.MaxInFlight)
		}
	}
	x.validateSteadyState(&l)
	if len(x.Method) == 0 {
		l.add("method", "is required: at least one step")
	}
	for i := range x.Method {
		x.validateStep(&l, fmt.Sprintf("method[%d]", i), &x.Method[i], services)
	}
	for i := range x.Rollbacks {
		x.validateStep(&l, fmt.Sprintf("rollbacks[%d]", i), &x.Rollbacks[i], services)
	}
	return errors.Join(l...)
}

func (x *Experiment) validateSteadyState(l *errs) {
	ss := &x.SteadyState
	if ss.Window != 0 && ss.Window < Duration(1e8) {
		l.add("steady_state.window", "%v: want at least 100ms (zero means %v)", ss.Window, DefaultWindow)
	}
	if len(ss.Probes) == 0 {
		l.add("steady_state.probes", "is required: at least one probe")
	}
	names := map[string]bool{}
	for i := range ss.Probes {
		pr := &ss.Probes[i]
		p := fmt.Sprintf("steady_state.probes[%d]", i)
		switch {
		case pr.Name == "":
			l.add(p+".name", "is required")
		case names[pr.Name]:
			l.add(p+".name", "%q is defined twice", pr.Name)
		}
		names[pr.Name] = true
		set := map[string]bool{
			"min": pr.Min != 0, "percentile": pr.Percentile != 0, "max": pr.Max != 0,
			"method": pr.Method != "", "url": pr.URL != "", "body": pr.Body != "", "headers": len(pr.Headers) > 0,
			"timeout": pr.Timeout != 0, "expect_status": pr.ExpectStatus != 0,
			"expect_body_contains": pr.ExpectBodyContains != "", "expect_json": pr.ExpectJSON != nil,
		}
		switch pr.Type {
		case ProbeSuccessRate:
			onlyFields(l, p, string(pr.Type)+" probes", set, "min")
			if !(pr.Min > 0 && pr.Min <= 100) {
				l.add(p+".min", "%v: want a percentage in (0%%, 100%%]", pr.Min)
			}
			if x.Load == nil {
				l.add(p+".type", "success_rate needs load: measures the load's requests")
			}
		case ProbeLatency:
			onlyFields(l, p, string(pr.Type)+" probes", set, "percentile", "max")
			if !(pr.Percentile >= 0 && pr.Percentile <= 100) {
				l.add(p+".percentile", "%v: want a percentage in (0%%, 100%%]", pr.Percentile)
			}
			if pr.Max <= 0 {
				l.add(p+".max", "is required: the highest latency that holds, such as 250ms")
			}
			if x.Load == nil {
				l.add(p+".type", "latency needs load: measures the load's requests")
			}
		case ProbeHTTP:
			onlyFields(l, p, "http probes", set, "method", "url", "body", "headers", "timeout",
				"expect_status", "expect_body_contains", "expect_json")
			checkRequest(l, p, &pr.Request)
			checkStatus(l, p+".expect_status", pr.ExpectStatus)
			if pr.ExpectJSON != nil && pr.ExpectJSON.Path == "" {
				l.add(p+".expect_json.path", "is required")
			}
		case "":
			l.add(p+".type", "is required: success_rate, latency or http")
		default:
			l.add(p+".type", "%q is not one of success_rate, latency, http", pr.Type)
		}
	}
}

// stepFields lists the fields each step type may set, besides name and type.
var stepFields = map[StepType][]string{
	StepFault:       {"gateway", "token", "fault"},
	StepClearFaults: {"gateway", "token"},
	StepWait:        {"duration"},
	StepKill:        {"service", "pidfile", "signal"},
	StepRestart:     {"service"},
	StepPartition:   {"proxy_api", "proxy"},
	StepHeal:        {"proxy_api", "proxy"},
	StepHTTP:        {"method", "url", "body", "headers", "timeout", "expect_status"},
}

func (x *Experiment) validateStep(l *errs, p string, s *Step, services map[string]bool) {
	allowed, ok := stepFields[s.Type]
	switch {
	case s.Type == "":
		l.add(p+".type", "is required: fault, clear_faults, wait, kill, restart, partition, heal or http")
		return
	case !ok:
		l.add(p+".type", "%q is not one of fault, clear_faults, wait, kill, restart, partition, heal, http", s.Type)
		return
	}
	set := map[string]bool{
		"gateway": s.Gateway != "", "token": s.Token != "", "fault": s.Fault != nil, "duration": s.Duration != 0,
		"service": s.Service != "", "pidfile": s.PIDFile != "", "signal": s.Signal != "",
		"proxy_api": s.ProxyAPI != "", "proxy": s.Proxy != "",
		"method": s.Method != "", "url": s.URL != "", "body": s.Body != "", "headers": len(s.Headers) > 0,
		"timeout": s.Timeout != 0, "expect_status": s.ExpectStatus != 0,
	}
	onlyFields(l, p, string(s.Type)+" steps", set, allowed...)
	switch s.Type {
	case StepFault, StepClearFaults:
		switch {
		case s.Gateway != "":
			checkURL(l, p+".gateway", s.Gateway)
		case x.Gateway == nil:
			l.add(p+".gateway", "is required (or set the experiment's gateway): the admin API's URL")
		}
		if s.Type == StepFault {
			if s.Fault == nil {
				l.add(p+".fault", "is required: the fault to add, such as {kind: error, status: 503, percent: 30}")
			} else if err := s.Fault.Validate(); err != nil {
				l.add(p+".fault", "%s", strings.TrimPrefix(err.Error(), "chaos: "))
			}
		}
	case StepWait:
		if s.Duration <= 0 {
			l.add(p+".duration", "is required: how long to wait, such as 3s")
		}
	case StepKill:
		switch {
		case s.Service == "" && s.PIDFile == "":
			l.add(p+".service", "is required (or pidfile): what to signal")
		case s.Service != "" && s.PIDFile != "":
			l.add(p+".pidfile", "give service or pidfile, not both")
		case s.Service != "" && !services[s.Service]:
			l.add(p+".service", "%q is not a service of this experiment", s.Service)
		}
		if s.Signal != "" {
			if _, err := parseSignal(s.Signal); err != nil {
				l.add(p+".signal", "%v", err)
			}
		}
	case StepRestart:
		switch {
		case s.Service == "":
			l.add(p+".service", "is required: the service to restart")
		case !services[s.Service]:
			l.add(p+".service", "%q is not a service of this experiment", s.Service)
		}
	case StepPartition, StepHeal:
		checkURL(l, p+".proxy_api", s.ProxyAPI)
		if s.Proxy == "" {
			l.add(p+".proxy", "is required: the name of the proxy")
		}
	case StepHTTP:
		checkRequest(l, p, &s.Request)
		checkStatus(l, p+".expect_status", s.ExpectStatus)
	}
}

// onlyFields reports each set field that is not allowed.
func onlyFields(l *errs, p, what string, set map[string]bool, allowed ...string) {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, name := range sortedKeys(set) {
		if set[name] && !ok[name] {
			l.add(p+"."+name, "does not apply to %s", what)
		}
	}
}

func checkRequest(l *errs, p string, r *Request) {
	checkURL(l, p+".url", r.URL)
	checkMethod(l, p+".method", r.Method)
	checkPositive(l, p+".timeout", r.Timeout, true)
	for k := range r.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			l.add(p+".headers", "invalid header name %q", k)
		}
	}
}

func checkURL(l *errs, p, s string) {
	if s == "" {
		l.add(p, "is required")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.add(p, "%q: want an http:// or https:// URL with a host", s)
	}
}

func checkMethod(l *errs, p, m string) {
	if m != "" && !methodRE.MatchString(m) {
		l.add(p, "%q: want an upper-case HTTP method such as GET or POST", m)
	}
}

func checkStatus(l *errs, p string, s int) {
	if s != 0 && (s < 100 || s > 599) {
		l.add(p, "%d: want a status in [100, 599]", s)
	}
}

func checkPositive(l *errs, p string, d Duration, zeroOK bool) {
	if d < 0 || (d == 0 && !zeroOK) {
		l.add(p, "%v: want a positive duration", d)
	}
}
