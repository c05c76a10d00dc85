package cards_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"kassa/cards"
)

// A card is checked before it goes anywhere, prints only its brand and last
// four, and is authorized through the client under an idempotency key (here
// against the simulated acquirer and its documented test cards).
func Example() {
	card := cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	if err := cards.Check(card, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(card)

	srv := httptest.NewServer(cards.NewSimulator(time.Now).Handler())
	defer srv.Close()
	client := cards.NewClient(srv.URL, nil, 5*time.Second, 2)
	res, err := client.Authorize(context.Background(), cards.Payment{
		IdempotencyKey: "order-1001/authorize", Amount: 25900, Currency: "SEK",
		Reference: "order-1001", Card: card,
	})
	fmt.Println(res.Approved, res.Amount, err)
	// Output:
	// visa ****4242
	// true 25900 <nil>
}

// A capture, like every acquirer call, carries an idempotency key derived
// from kassa's operation: sent again, it replays the first answer and never
// captures twice. The acquirer's books for the order show what moved.
func ExampleClient_Capture() {
	srv := httptest.NewServer(cards.NewSimulator(time.Now).Handler())
	defer srv.Close()
	client := cards.NewClient(srv.URL, nil, 5*time.Second, 2)
	ctx := context.Background()
	auth, _ := client.Authorize(ctx, cards.Payment{
		IdempotencyKey: "order-1001/authorize", Amount: 25900, Currency: "SEK", Reference: "order-1001",
		Card: cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"},
	})
	op := cards.Operation{IdempotencyKey: "order-1001/capture-1", Payment: auth.ID, Amount: 20000, Currency: "SEK"}
	for range 2 {
		res, err := client.Capture(ctx, op)
		fmt.Println(res.Type, res.Succeeded, res.Amount, err)
	}
	res, _ := client.Capture(ctx, cards.Operation{IdempotencyKey: "order-1001/capture-2", Payment: auth.ID, Amount: 6000, Currency: "SEK"})
	fmt.Println(res.Succeeded, res.RefusalCode)
	books, _, _ := client.Books(ctx, "order-1001")
	fmt.Println(books.Authorized, books.Captured, books.Currency)
	// Output:
	// capture true 20000 <nil>
	// capture true 20000 <nil>
	// false amount_exceeds_authorization
	// 25900 20000 SEK
}
