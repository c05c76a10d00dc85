package ledger_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"kassa/ledger"
)

// A region opens its ledger, appends a double-entry fact and reads a
// balance back; Verify checks the database file as `kassa verify` does.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "kassa-example")
	defer os.RemoveAll(dir)
	pub, key, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(dir, "kassa.db")
	keys := ledger.Keys{"r1": pub}

	store, err := ledger.Open(ctx, ledger.Options{Path: path, Region: "r1", Key: key, Keys: keys})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := store.Append(ctx, ledger.Draft{
		Kind: "repayment.received", Subject: "c1",
		Postings: []ledger.Posting{
			{Account: "bank:incoming", Amount: 25900, Currency: "SEK"},
			{Account: "consumer:c1:receivable", Amount: -25900, Currency: "SEK"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	bal, _ := store.Balance(ctx, "consumer:c1:receivable", "SEK")
	fmt.Println(e.Origin, e.Seq, bal)
	store.Close()

	report, err := ledger.Verify(ctx, path, keys)
	fmt.Println(report.Entries, err)
	// Output:
	// r1 1 -25900
	// 1 <nil>
}
