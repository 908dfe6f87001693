package ledger_test

import (
	"context"
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

// ExampleShared shows two replicas sharing one ledger file: a charge retried
// on the second replica after the first applied it is answered with the
// original charge, not applied again.
func ExampleShared() {
	dir, err := os.MkdirTemp("", "ledger-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, ledger.FileName)
	replica1, replica2 := ledger.NewShared(path), ledger.NewShared(path)
	ctx := context.Background()

	first, applied, err := replica1.ApplyOnce(ctx, ledger.Entry{Key: "k-1", ID: "ch_1", Amount: 1234, Currency: "EUR", Customer: "c1", Replica: "payments-1"})
	fmt.Println(first.ID, first.Replica, applied, err)
	retry, applied, err := replica2.ApplyOnce(ctx, ledger.Entry{Key: "k-1", ID: "ch_2", Amount: 1234, Currency: "EUR", Customer: "c1", Replica: "payments-2"})
	fmt.Println(retry.ID, retry.Replica, applied, err)

	entries, _ := ledger.ReadFile(path)
	fmt.Println(len(entries), ledger.Audit(entries, []string{"k-1"}).OK())
	// Output:
	// ch_1 payments-1 true <nil>
	// ch_1 payments-1 false <nil>
	// 1 true
}
