package ledger_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/keelhq/keel/examples/payments/ledger"
)

// Each replica appends to its own ledger; after the run, the entries of every
// ledger are audited against the keys the clients saw acknowledged.
func Example() {
	dir, err := os.MkdirTemp("", "ledger")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	var all []ledger.Entry
	for _, replica := range []string{"payments-1", "payments-2"} {
		path := filepath.Join(dir, replica+"-"+ledger.FileName)
		l, err := ledger.Open(path)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, key := range []string{"key-1", replica} {
			if _, err := l.Append(ledger.Entry{Key: key, Amount: 1234, Currency: "EUR", Customer: "c1", Replica: replica}); err != nil {
				fmt.Println(err)
			}
		}
		if err := l.Close(); err != nil {
			fmt.Println(err)
		}
		entries, err := ledger.ReadFile(path) // also after SIGKILL
		if err != nil {
			fmt.Println(err)
			return
		}
		all = append(all, entries...)
	}

	r := ledger.Audit(all, []string{"key-1", "payments-1", "key-2"})
	fmt.Println("entries:", r.Entries, "keys:", r.Keys, "ok:", r.OK())
	for _, d := range r.Duplicates {
		fmt.Printf("applied %d times: %s on %s and %s\n", len(d.Entries), d.Key, d.Entries[0].Replica, d.Entries[1].Replica)
	}
	fmt.Println("lost:", r.Lost)
	fmt.Println("applied, never acknowledged:", r.Unacknowledged)
	// Output:
	// entries: 4 keys: 3 ok: false
	// applied 2 times: key-1 on payments-1 and payments-2
	// lost: [key-2]
	// applied, never acknowledged: 1
}
