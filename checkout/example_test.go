package checkout_test

import (
	"errors"
	"fmt"

	"kassa/checkout"
)

// A session's id is derived from the merchant and its Idempotency-Key under
// the deployment's id key, and its order's id from the session, so a retry
// in any region finds the same objects without asking another region, and
// no one without the key can compute a checkout page's address.
func ExampleSessionIDs() {
	ids := checkout.SessionIDs{Key: []byte("id-key-shared-by-every-region")}
	sid := ids.ID("demo", "cart-1842")
	oid := checkout.OrderFor(sid)
	fmt.Println("session:", sid)
	fmt.Println("order:", oid, checkout.ValidOrderID(string(oid)))
	fmt.Println("retry, same key:", sid == ids.ID("demo", "cart-1842"))
	fmt.Println("another merchant, same key:", sid == ids.ID("other-shop", "cart-1842"))
	other := checkout.SessionIDs{Key: []byte("another-deployment-key")}
	fmt.Println("another id key:", sid == other.ID("demo", "cart-1842"))
	// Output:
	// session: ses_5cj6lceivngrfs2l3txjmbkh
	// order: ord_lycucgoz6zb7b6xnzxr2bo2g true
	// retry, same key: true
	// another merchant, same key: false
	// another id key: false
}

// A session request is checked before anything is written; a bad field
// comes back as a *FieldError that the merchant API answers as 400 with the
// field named.
func ExampleSessionRequest_Validate() {
	req := checkout.SessionRequest{
		Amount: 149_900, Currency: "SEK", Country: "SE", MerchantReference: "cart-1842",
		Lines: []checkout.Line{
			{Name: "Running shoes", Quantity: 1, UnitPrice: 129_900, Total: 129_900},
			{Name: "Socks", Quantity: 2, UnitPrice: 10_000, Total: 20_000},
		},
		URLs: checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/cart"},
	}
	if err := req.Validate(false); err == nil {
		fmt.Println("valid")
	}

	req.Lines[1].Quantity = 3 // the total no longer matches
	var fe *checkout.FieldError
	if err := req.Validate(false); errors.As(err, &fe) {
		fmt.Printf("%s: %s\n", fe.Field, fe.Message)
	}
	// Output:
	// valid
	// lines[1].total: is 20000 but quantity times unit_price is 30000
}
