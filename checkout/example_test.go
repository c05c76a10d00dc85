package checkout_test

import (
	"errors"
	"fmt"

	"kassa/checkout"
)

// A session's id is derived from the merchant and its Idempotency-Key, and
// its order's id from the session, so a retry in any region finds the same
// objects without asking another region.
func ExampleNewSessionID() {
	sid := checkout.NewSessionID("demo", "cart-1842")
	oid := checkout.OrderFor(sid)
	fmt.Println("session:", sid)
	fmt.Println("order:", oid, checkout.ValidOrderID(string(oid)))
	fmt.Println("retry, same key:", sid == checkout.NewSessionID("demo", "cart-1842"))
	fmt.Println("another merchant, same key:", sid == checkout.NewSessionID("other-shop", "cart-1842"))
	// Output:
	// session: ses_qky4lwzvz3ze22kbv4pikhnt
	// order: ord_cop552bthepfg5a5tz3uknv5 true
	// retry, same key: true
	// another merchant, same key: false
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
