package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keelhq/keel/chaos"
)

// label returns the step's name, or a description built from its fields.
func (s *Step) label() string {
	if s.Name != "" {
		return s.Name
	}
	switch s.Type {
	case StepFault:
		if f := s.Fault; f != nil {
			d := "fault " + string(f.Kind)
			if f.Kind == chaos.KindError && f.Status != 0 {
				d += " " + strconv.Itoa(f.Status)
			}
			if f.Percent != nil {
				d += " " + strconv.FormatFloat(*f.Percent, 'f', -1, 64) + "%"
			}
			if f.Route != "" {
				d += " on " + f.Route
			}
			if f.Duration > 0 {
				d += " for " + f.Duration.String()
			}
			return d
		}
	case StepWait:
		return "wait " + s.Duration.String()
	case StepKill:
		sig := strings.TrimPrefix(strings.ToUpper(or(s.Signal, "KILL")), "SIG")
		if s.Service != "" {
			return "kill -" + sig + " " + s.Service
		}
		return "kill -" + sig + " " + s.PIDFile
	case StepRestart:
		return "restart " + s.Service
	case StepPartition, StepHeal:
		return string(s.Type) + " " + s.Proxy
	case StepHTTP:
		return or(s.Method, map[bool]string{true: http.MethodPost, false: http.MethodGet}[s.Body != ""]) + " " + s.URL
	}
	return string(s.Type)
}

// addedFault is a fault a step added, removed again at rollback.
type addedFault struct {
	gateway, token, id string
}

// partitioned is a proxy a step disabled, enabled again at rollback.
type partitioned struct {
	api, proxy string
}

// runStep runs one step and returns what it did, for the journal.
func (r *run) runStep(ctx context.Context, s *Step) (string, error) {
	switch s.Type {
	case StepFault:
		gw, token := r.gateway(s)
		status, body, err := r.admin(ctx, http.MethodPost, gw+"/faults", token, s.Fault)
		if err != nil {
			return "", err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return "", fmt.Errorf("POST %s/faults: status %d: %s", gw, status, abbrev(body))
		}
		var added chaos.Fault
		if err := json.Unmarshal(body, &added); err != nil || added.ID == "" {
			return "", fmt.Errorf("POST %s/faults: the answer names no fault: %s", gw, abbrev(body))
		}
		r.faults = append(r.faults, addedFault{gateway: gw, token: token, id: added.ID})
		return "added fault " + added.ID, nil
	case StepClearFaults:
		gw, token := r.gateway(s)
		status, body, err := r.admin(ctx, http.MethodDelete, gw+"/faults", token, nil)
		if err != nil {
			return "", err
		}
		if status/100 != 2 {
			return "", fmt.Errorf("DELETE %s/faults: status %d: %s", gw, status, abbrev(body))
		}
		return "removed every fault", nil
	case StepWait:
		t := time.NewTimer(time.Duration(s.Duration))
		defer t.Stop()
		select {
		case <-t.C:
			return "", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	case StepKill:
		sig, err := parseSignal(s.Signal)
		if err != nil {
			return "", err
		}
		if s.Service != "" {
			pid, err := r.services.signal(ctx, s.Service, sig)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("sent %v to %s (pid %d)", signalName(sig), s.Service, pid), nil
		}
		pid, err := readPIDFile(s.PIDFile)
		if err != nil {
			return "", err
		}
		if err := syscall.Kill(pid, sig); err != nil {
			return "", fmt.Errorf("signal pid %d from %s: %w", pid, s.PIDFile, err)
		}
		return fmt.Sprintf("sent %v to pid %d", signalName(sig), pid), nil
	case StepRestart:
		if err := r.services.restart(ctx, s.Service); err != nil {
			return "", err
		}
		return "restarted " + s.Service, nil
	case StepPartition, StepHeal:
		enabled := s.Type == StepHeal
		if err := r.setProxy(ctx, s.ProxyAPI, s.Proxy, enabled); err != nil {
			return "", err
		}
		if !enabled {
			r.partitions = append(r.partitions, partitioned{api: s.ProxyAPI, proxy: s.Proxy})
			return "disabled proxy " + s.Proxy, nil
		}
		return "enabled proxy " + s.Proxy, nil
	case StepHTTP:
		status, body, err := send(ctx, r.client, &s.Request, "")
		if err != nil {
			return "", err
		}
		if s.ExpectStatus != 0 && status != s.ExpectStatus || s.ExpectStatus == 0 && status/100 != 2 {
			return "", fmt.Errorf("status %d: %s", status, abbrev(body))
		}
		return "status " + strconv.Itoa(status), nil
	}
	return "", fmt.Errorf("unknown step type %q", s.Type)
}

// gateway returns the admin URL and token of a fault or clear_faults step.
func (r *run) gateway(s *Step) (string, string) {
	gw, token := s.Gateway, s.Token
	if gw == "" && r.x.Gateway != nil {
		gw = r.x.Gateway.URL
		if token == "" {
			token = r.x.Gateway.Token
		}
	}
	return strings.TrimRight(gw, "/"), token
}

// admin sends a request with a JSON body (v, if not nil) to an admin API.
func (r *run) admin(ctx context.Context, method, u, token string, v any) (int, []byte, error) {
	req := Request{Method: method, URL: u}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, nil, err
		}
		req.Body = string(b)
	}
	return send(ctx, r.client, &req, token)
}

// setProxy enables or disables a proxy of a Toxiproxy-compatible API.
func (r *run) setProxy(ctx context.Context, api, proxy string, enabled bool) error {
	u := strings.TrimRight(api, "/") + "/proxies/" + url.PathEscape(proxy)
	status, body, err := r.admin(ctx, http.MethodPost, u, "", map[string]bool{"enabled": enabled})
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("POST %s: status %d: %s", u, status, abbrev(body))
	}
	return nil
}

// postEvent adds an event to the experiment's gateway timeline. A failure
// is logged, not returned: events are for people watching.
func (r *run) postEvent(ctx context.Context, kind, detail string) {
	g := r.x.Gateway
	if g == nil {
		return
	}
	if len(detail) > 1024 {
		detail = detail[:1024]
	}
	u := strings.TrimRight(g.URL, "/") + "/events"
	status, body, err := r.admin(ctx, http.MethodPost, u, g.Token, map[string]string{"kind": kind, "detail": detail})
	if err == nil && status/100 != 2 {
		err = fmt.Errorf("status %d: %s", status, abbrev(body))
	}
	if err != nil {
		r.log.WarnContext(ctx, "experiment: event not posted", "url", u, "error", err)
	}
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the experiment's own pid file
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s does not hold a pid: %q", path, abbrev(b))
	}
	return pid, nil
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return "SIG" + name
		}
	}
	return sig.String()
}
