package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kassa/admin"
	"kassa/cards"
	"kassa/checkout"
)

// approveCards is an acquirer that approves every card.
type approveCards struct{}

func (approveCards) Authorize(_ context.Context, p cards.Payment) (cards.Result, error) {
	return cards.Result{ID: "pay_" + p.Reference, Approved: true, Amount: p.Amount, Currency: p.Currency}, nil
}

func (approveCards) Lookup(context.Context, string) (cards.Result, bool, error) {
	return cards.Result{}, false, nil
}

// Capture, Refund and Void do what they are asked.
func (approveCards) Capture(_ context.Context, op cards.Operation) (cards.OperationResult, error) {
	return approved("capture", op), nil
}

func (approveCards) Refund(_ context.Context, op cards.Operation) (cards.OperationResult, error) {
	return approved("refund", op), nil
}

func (approveCards) Void(_ context.Context, op cards.Operation) (cards.OperationResult, error) {
	return approved("void", op), nil
}

func approved(kind string, op cards.Operation) cards.OperationResult {
	return cards.OperationResult{ID: "op_" + op.IdempotencyKey, Payment: op.Payment, Type: kind, Succeeded: true,
		Amount: op.Amount, Currency: op.Currency, Created: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
}

// authorizeCard authorizes a card order of amount SEK for email with
// merchant's reference ref.
func authorizeCard(tb testing.TB, e *env, merchant, ref, email string, amount int64) checkout.Order {
	tb.Helper()
	ctx := context.Background()
	sess, _, err := e.svc.CreateSession(ctx, merchant, "key-"+ref, checkout.SessionRequest{
		Amount: amount, Currency: "SEK", Country: "SE", MerchantReference: ref,
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: amount, Total: amount}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}, "hash-"+ref)
	if err != nil {
		tb.Fatal(err)
	}
	o, _, err := e.svc.Authorize(ctx, merchant, sess.ID, checkout.AuthorizeRequest{Method: "card",
		Consumer: checkout.Consumer{Email: email, GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"},
		Card:     &checkout.CardInput{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}}, "auth-"+ref)
	if err != nil {
		tb.Fatal(err)
	}
	if o.Status != "authorized" {
		tb.Fatalf("card order: got status %q, want authorized", o.Status)
	}
	return o
}

// TestSearchFindsEverything finds orders of every method by the shopper's
// email and by merchant reference in any merchant, and merchants by id or
// name, on the page and in the JSON API.
func TestSearchFindsEverything(t *testing.T) {
	e := newEnv(t)
	card := authorizeCard(t, e, "demo", "C-1", adaEmail, 2500)
	other := authorizeCard(t, e, "shop2", "C-2", "grace@example.com", 1200)
	b := signIn(t, e, "viewer")
	link := func(id checkout.OrderID) string { return `href="/admin/orders/` + string(id) + `"` }
	for _, tc := range []struct {
		q          string
		want, none []string
	}{
		{adaEmail, []string{link(e.order), link(card.ID), "a***@example.com"}, []string{link(other.ID)}},
		{" ADA@example.COM", []string{link(e.order), link(card.ID)}, []string{link(other.ID)}},
		{string(e.svc.ConsumerID(adaEmail)), []string{link(e.order), link(card.ID)}, []string{link(other.ID)}},
		{"grace@example.com", []string{link(other.ID)}, []string{link(e.order), link(card.ID)}},
		{"C-2", []string{link(other.ID)}, []string{link(card.ID)}},
		{"shop2", []string{"Nordic Bikes"}, nil},
		{"bikes", []string{"Nordic Bikes", "shop2"}, []string{">demo<"}},
		{"demo", []string{`<span class="mono">demo</span>`}, []string{"Nordic Bikes"}},
	} {
		p := b.get("/admin/search?" + url.Values{"q": {tc.q}}.Encode())
		wantText(t, tc.q, p, http.StatusOK, "Results for")
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%q: no %s in:\n%s", tc.q, w, text(p.body))
			}
		}
		for _, w := range tc.none {
			if strings.Contains(p.body, w) {
				t.Errorf("%q: found %s", tc.q, w)
			}
		}
	}

	status, body := call(t, e, "GET", "/admin/api/search?"+url.Values{"q": {adaEmail}}.Encode(), "viewer", "")
	if status != http.StatusOK {
		t.Fatalf("search API: got %d %s", status, body)
	}
	found := decode[admin.Found](t, body)
	var ids []checkout.OrderID
	for _, o := range found.Orders {
		ids = append(ids, o.ID)
	}
	if len(ids) != 2 || ids[0] != card.ID || ids[1] != e.order {
		t.Fatalf("search API by email: got orders %v, want [%s %s] (newest first)", ids, card.ID, e.order)
	}
	if len(found.Consumers) != 1 || found.Consumers[0].ID != e.svc.ConsumerID(adaEmail) {
		t.Fatalf("search API by email: got consumers %+v", found.Consumers)
	}
	// The card authorization names the consumer by its keyed id, never
	// by the email.
	for _, d := range entryData(t, e.store, string(card.ID), checkout.KindOrderAuthorized) {
		if b, _ := json.Marshal(d); strings.Contains(string(b), adaEmail) {
			t.Fatalf("the authorization holds the email: %v", d)
		}
	}
	if status, _ := call(t, e, "GET", "/admin/api/search?q=x", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("search API without credentials: got %d, want 401", status)
	}
}
