package e2e

import (
	"fmt"
	"strings"
)

// header is the start of every test configuration: both listeners on free
// loopback ports, an admin token, and no access log (the tests read the
// gateway's own log lines, not one per request).
const header = `listen: {address: "127.0.0.1:0", drain_timeout: 5s}
admin: {address: "127.0.0.1:0", token: secret}
telemetry: {access_log: false}
`

// targets renders the backends' addresses as a YAML flow list.
func targets(bs ...*backend) string {
	q := make([]string, len(bs))
	for i, b := range bs {
		q[i] = fmt.Sprintf("%q", b.addr)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
