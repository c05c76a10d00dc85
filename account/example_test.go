package account_test

import (
	"fmt"

	"kassa/account"
)

func Example() {
	// A region that captures builds the accounts it posts to...
	capture := account.CaptureRights("ord_7f3k")
	fmt.Println(capture.In("eu-north"))
	fmt.Println(account.MerchantPayable("demo"))

	// ...asks a peer for rights by their prefix...
	fmt.Println(capture.Prefix())

	// ...and the peer reads back what is asked for.
	r, err := account.ParseRights(capture.Prefix())
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Kind(), r.ID())

	n, err := account.Parse("credit:con_q2:rights:us-east")
	if err != nil {
		panic(err)
	}
	fmt.Println(n.Kind, n.ID, n.Region)
	// Output:
	// order:ord_7f3k:capture:eu-north
	// merchant:demo:payable
	// order:ord_7f3k:capture:
	// capture rights ord_7f3k
	// credit rights con_q2 us-east
}
