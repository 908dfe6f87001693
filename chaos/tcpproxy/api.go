package tcpproxy

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// maxBody bounds a control API request body.
const maxBody = 1 << 20

// ServeHTTP serves the Toxiproxy-compatible control API:
//
//	GET    /proxies                          all proxies, by name
//	POST   /proxies                          create a proxy (201)
//	POST   /populate                         create or replace proxies (201)
//	GET    /proxies/{proxy}                  one proxy
//	POST   /proxies/{proxy}                  update it (PATCH too)
//	DELETE /proxies/{proxy}                  delete it (204)
//	GET    /proxies/{proxy}/toxics           its toxics
//	POST   /proxies/{proxy}/toxics           add a toxic (200)
//	GET    /proxies/{proxy}/toxics/{toxic}   one toxic
//	POST   /proxies/{proxy}/toxics/{toxic}   update it (PATCH too)
//	DELETE /proxies/{proxy}/toxics/{toxic}   remove it (204)
//	POST   /reset                            enable all proxies, remove all toxics (204)
//	GET    /version                          the version, as text
//
// Errors are JSON objects {"error": message, "status": code}. As Toxiproxy
// does, it refuses requests from browsers (a User-Agent starting with
// "Mozilla/") with 403, so that a web page cannot drive it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.UserAgent(), "Mozilla/") {
		http.Error(w, "User agent not allowed", http.StatusForbidden)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /reset", s.handleReset)
	m.HandleFunc("GET /proxies", s.handleProxies)
	m.HandleFunc("POST /proxies", s.handleCreate)
	m.HandleFunc("POST /populate", s.handlePopulate)
	m.HandleFunc("GET /proxies/{proxy}", s.handleProxy)
	m.HandleFunc("POST /proxies/{proxy}", s.handleUpdate)
	m.HandleFunc("PATCH /proxies/{proxy}", s.handleUpdate)
	m.HandleFunc("DELETE /proxies/{proxy}", s.handleDelete)
	m.HandleFunc("GET /proxies/{proxy}/toxics", s.handleToxics)
	m.HandleFunc("POST /proxies/{proxy}/toxics", s.handleAddToxic)
	m.HandleFunc("GET /proxies/{proxy}/toxics/{toxic}", s.handleToxic)
	m.HandleFunc("POST /proxies/{proxy}/toxics/{toxic}", s.handleUpdateToxic)
	m.HandleFunc("PATCH /proxies/{proxy}/toxics/{toxic}", s.handleUpdateToxic)
	m.HandleFunc("DELETE /proxies/{proxy}/toxics/{toxic}", s.handleRemoveToxic)
	m.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		_, _ = io.WriteString(w, Version) // the client may be gone
	})
	return m
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may be gone
}

func (s *Server) writeError(w http.ResponseWriter, err error) {
	e := toAPIError(err)
	if e.Status == http.StatusInternalServerError {
		s.logger.Warn("tcpproxy: control API error", slog.Any("err", err))
	}
	b, _ := json.Marshal(e) // a struct of a string and an int always encodes
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b) // the client may be gone
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("%w: bad request body: %w", ErrBadRequest, err)
	}
	return nil
}

// proxyJSON is a Proxy as the API reads it: a missing "enabled" means true.
type proxyJSON struct {
	Name     string  `json:"name"`
	Listen   string  `json:"listen"`
	Upstream string  `json:"upstream"`
	Enabled  *bool   `json:"enabled"`
	Toxics   []Toxic `json:"toxics"`
}

func (p *proxyJSON) proxy() Proxy {
	return Proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled == nil || *p.Enabled, Toxics: p.Toxics}
}

// UnmarshalJSON reads a Proxy; a missing "enabled" reads as true, as in
// Toxiproxy's API and configuration files.
func (p *Proxy) UnmarshalJSON(b []byte) error {
	var in proxyJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*p = in.proxy()
	return nil
}

// toxicJSON is a Toxic as the API reads it: a missing "toxicity" means 1.
type toxicJSON struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Stream     string     `json:"stream"`
	Toxicity   *float64   `json:"toxicity"`
	Attributes Attributes `json:"attributes"`
}

// UnmarshalJSON reads a Toxic, with a toxicity of 1 when it is missing.
func (t *Toxic) UnmarshalJSON(b []byte) error {
	var in toxicJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*t = Toxic{Name: in.Name, Type: in.Type, Stream: in.Stream, Toxicity: 1, Attributes: in.Attributes}
	if in.Toxicity != nil {
		t.Toxicity = *in.Toxicity
	}
	return nil
}

func (s *Server) handleProxies(w http.ResponseWriter, _ *http.Request) {
	ps, err := s.Proxies()
	if err != nil {
		s.writeError(w, err)
		return
	}
	out := make(map[string]Proxy, len(ps))
	for _, p := range ps {
		out[p.Name] = p
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in proxyJSON
	if err := decode(r, &in); err != nil {
		s.writeError(w, err)
		return
	}
	p, err := s.CreateProxy(in.proxy())
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, p)
}

func (s *Server) handlePopulate(w http.ResponseWriter, r *http.Request) {
	var in []proxyJSON
	if err := decode(r, &in); err != nil {
		s.writeError(w, err)
		return
	}
	ps := make([]Proxy, len(in))
	for i := range in {
		ps[i] = in[i].proxy()
	}
	out, err := s.Populate(ps)
	if err != nil {
		e := toAPIError(err)
		s.writeJSON(w, e.Status, struct {
			*apiError
			Proxies []Proxy `json:"proxies"`
		}{e, out})
		return
	}
	s.writeJSON(w, http.StatusCreated, struct {
		Proxies []Proxy `json:"proxies"`
	}{out})
}

func (s *Server) handleProxy(w http.ResponseWriter, r *http.Request) {
	p, err := s.Proxy(r.PathValue("proxy"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	cur, err := s.Proxy(r.PathValue("proxy"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	// Fields left out keep their current values.
	in := proxyJSON{Listen: cur.Listen, Upstream: cur.Upstream, Enabled: &cur.Enabled}
	if err := decode(r, &in); err != nil {
		s.writeError(w, err)
		return
	}
	p, err := s.UpdateProxy(cur.Name, in.proxy())
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteProxy(r.PathValue("proxy")); err != nil {
		s.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleToxics(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Toxics(r.PathValue("proxy"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ts)
}

func (s *Server) handleAddToxic(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Proxy(r.PathValue("proxy")); err != nil {
		s.writeError(w, err)
		return
	}
	var t Toxic
	if err := decode(r, &t); err != nil {
		s.writeError(w, err)
		return
	}
	t, err := s.AddToxic(r.PathValue("proxy"), t)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleToxic(w http.ResponseWriter, r *http.Request) {
	t, err := s.Toxic(r.PathValue("proxy"), r.PathValue("toxic"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleUpdateToxic(w http.ResponseWriter, r *http.Request) {
	cur, err := s.Toxic(r.PathValue("proxy"), r.PathValue("toxic"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	// Attributes and toxicity left out keep their current values.
	in := struct {
		Attributes Attributes `json:"attributes"`
		Toxicity   float64    `json:"toxicity"`
	}{cur.Attributes, cur.Toxicity}
	if err := decode(r, &in); err != nil {
		s.writeError(w, err)
		return
	}
	cur.Attributes, cur.Toxicity = in.Attributes, in.Toxicity
	t, err := s.UpdateToxic(r.PathValue("proxy"), cur)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleRemoveToxic(w http.ResponseWriter, r *http.Request) {
	if err := s.RemoveToxic(r.PathValue("proxy"), r.PathValue("toxic")); err != nil {
		s.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	if err := s.Reset(); err != nil {
		s.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
