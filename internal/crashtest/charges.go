package crashtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DelayHeader is the request header whose value, in milliseconds, the
// charges handler waits before applying the charge. It is not part of the
// request's fingerprint, so a retry without it is the same request.
const DelayHeader = "X-Delay-Ms"

// Charge is the body of a charges response.
type Charge struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Amount string `json:"amount"`
	Exec   string `json:"exec"`
}

// Charges is a POST /charges handler that applies a charge: it waits
// DelayHeader milliseconds (or until the request's context ends, which
// applies nothing), appends the key to the ledger (synced), and only then
// responds 201 with a JSON [Charge]. gen names the process; each execution
// gets the id gen-n, so a replayed response is told apart from a new
// execution. Inflight counts the executions waiting or writing.
type Charges struct {
	Ledger   *Ledger
	Gen      string
	Inflight atomic.Int64
	n        atomic.Int64
}

// ServeHTTP implements http.Handler.
func (c *Charges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.Inflight.Add(1)
	defer c.Inflight.Add(-1)
	key := strings.Trim(r.Header.Get("Idempotency-Key"), `"`)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ms, _ := strconv.Atoi(r.Header.Get(DelayHeader)); ms > 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			http.Error(w, "canceled", http.StatusServiceUnavailable)
			return
		}
	}
	exec := c.Gen + "-" + strconv.FormatInt(c.n.Add(1), 10)
	if err := c.Ledger.Append(key, exec); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out, _ := json.Marshal(Charge{ID: "ch_" + exec, Key: key, Amount: string(body), Exec: exec})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(append(out, '\n'))
}
