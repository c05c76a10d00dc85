package cards_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"kassa/cards"
)

func TestCheck(t *testing.T) {
	valid := cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	with := func(f func(*cards.Card)) cards.Card { c := valid; f(&c); return c }
	tests := []struct {
		name      string
		card      cards.Card
		now       time.Time
		wantField string // "" for a valid card
		wantCode  string
	}{
		{"valid visa", valid, now, "", ""},
		{"dashes", with(func(c *cards.Card) { c.Number = "4242-4242-4242-4242" }), now, "", ""},
		{"no separators", with(func(c *cards.Card) { c.Number = "4242424242424242" }), now, "", ""},
		{"mastercard 2-series", with(func(c *cards.Card) { c.Number = "2223003122003222" }), now, "", ""},
		{"amex four-digit cvc", cards.Card{Number: "3782 822463 10005", ExpMonth: 1, ExpYear: 2027, CVC: "1234"}, now, "", ""},
		{"12 digits", with(func(c *cards.Card) { c.Number = "100000000008" }), now, "", ""},
		{"19 digits", with(func(c *cards.Card) { c.Number = "4000000000000000006" }), now, "", ""},

		{"empty number", with(func(c *cards.Card) { c.Number = "" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"luhn fails", with(func(c *cards.Card) { c.Number = "4242 4242 4242 4241" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"letter", with(func(c *cards.Card) { c.Number = "4242 4242 4242 424a" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"dot separator", with(func(c *cards.Card) { c.Number = "4242.4242.4242.4242" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"unicode digit", with(func(c *cards.Card) { c.Number = "4242424242424２42" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"11 digits", with(func(c *cards.Card) { c.Number = "42424242428" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"20 digits", with(func(c *cards.Card) { c.Number = "42424242424242424242" }), now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"only separators", with(func(c *cards.Card) { c.Number = " - - " }), now, cards.FieldNumber, cards.CodeInvalidNumber},

		{"month 0", with(func(c *cards.Card) { c.ExpMonth = 0 }), now, cards.FieldExpMonth, cards.CodeInvalidExpiry},
		{"month 13", with(func(c *cards.Card) { c.ExpMonth = 13 }), now, cards.FieldExpMonth, cards.CodeInvalidExpiry},
		{"two-digit year", with(func(c *cards.Card) { c.ExpYear = 30 }), now, cards.FieldExpYear, cards.CodeInvalidExpiry},
		{"year 21 years ahead", with(func(c *cards.Card) { c.ExpYear = 2047 }), now, cards.FieldExpYear, cards.CodeInvalidExpiry},
		{"year 20 years ahead", with(func(c *cards.Card) { c.ExpYear = 2046 }), now, "", ""},
		{"expired last year", with(func(c *cards.Card) { c.ExpYear = 2025 }), now, cards.FieldExpYear, cards.CodeExpiredCard},
		{"expired last month", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 2, 2026 }), now, cards.FieldExpMonth, cards.CodeExpiredCard},
		{"expires this month", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 3, 2026 }), now, "", ""},
		{"month over in UTC, not in UTC-12", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 3, 2026 }),
			time.Date(2026, time.April, 1, 11, 59, 0, 0, time.UTC), "", ""},
		{"month over everywhere", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 3, 2026 }),
			time.Date(2026, time.April, 1, 12, 0, 0, 0, time.UTC), cards.FieldExpMonth, cards.CodeExpiredCard},
		{"december rolls into january", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 12, 2026 }),
			time.Date(2027, time.January, 1, 12, 0, 0, 0, time.UTC), cards.FieldExpYear, cards.CodeExpiredCard},
		{"now in another zone", with(func(c *cards.Card) { c.ExpMonth, c.ExpYear = 3, 2026 }),
			time.Date(2026, time.April, 1, 23, 0, 0, 0, time.FixedZone("UTC+14", 14*3600)), "", ""},

		{"cvc empty", with(func(c *cards.Card) { c.CVC = "" }), now, cards.FieldCVC, cards.CodeInvalidCVC},
		{"cvc two digits", with(func(c *cards.Card) { c.CVC = "12" }), now, cards.FieldCVC, cards.CodeInvalidCVC},
		{"cvc four digits on visa", with(func(c *cards.Card) { c.CVC = "1234" }), now, cards.FieldCVC, cards.CodeInvalidCVC},
		{"cvc letters", with(func(c *cards.Card) { c.CVC = "12a" }), now, cards.FieldCVC, cards.CodeInvalidCVC},
		{"cvc three digits on amex", cards.Card{Number: "378282246310005", ExpMonth: 1, ExpYear: 2027, CVC: "123"}, now, cards.FieldCVC, cards.CodeInvalidCVC},

		{"number checked first", cards.Card{Number: "1", ExpMonth: 0, ExpYear: 0, CVC: ""}, now, cards.FieldNumber, cards.CodeInvalidNumber},
		{"month before year", cards.Card{Number: "4242424242424242", ExpMonth: 0, ExpYear: 1, CVC: ""}, now, cards.FieldExpMonth, cards.CodeInvalidExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cards.Check(tt.card, tt.now)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var fe *cards.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Field != tt.wantField || fe.Code != tt.wantCode {
				t.Errorf("got %s/%s, want %s/%s", fe.Field, fe.Code, tt.wantField, tt.wantCode)
			}
			if !errors.Is(err, cards.ErrInvalidCard) {
				t.Errorf("got errors.Is(err, ErrInvalidCard) false, want true")
			}
			if fe.Message == "" {
				t.Errorf("got an empty message, want a sentence for the shopper")
			}
			if l := leaks(err.Error()+fe.Message, tt.card.Number); l != "" {
				t.Errorf("got %q in the error, want no digits of the number", l)
			}
		})
	}
}

func TestBrand(t *testing.T) {
	tests := []struct{ number, want string }{
		{"4242424242424242", cards.BrandVisa},
		{"4000 0566 5566 5556", cards.BrandVisa},
		{"5105105105105100", cards.BrandMastercard},
		{"5555555555554444", cards.BrandMastercard},
		{"2221000000000009", cards.BrandMastercard},
		{"2720990000000007", cards.BrandMastercard},
		{"2220990000000000", cards.BrandUnknown},
		{"2721000000000000", cards.BrandUnknown},
		{"5000000000000000", cards.BrandUnknown},
		{"5600000000000000", cards.BrandUnknown},
		{"378282246310005", cards.BrandAmex},
		{"371449635398431", cards.BrandAmex},
		{"3530111333300000", cards.BrandUnknown}, // JCB
		{"6011111111111117", cards.BrandDiscover},
		{"6500000000000002", cards.BrandDiscover},
		{"6445644564456445", cards.BrandDiscover},
		{"6012000000000000", cards.BrandUnknown},
		{"", cards.BrandUnknown},
		{"x4242", cards.BrandUnknown},
		{"4", cards.BrandVisa},
		{"3", cards.BrandUnknown},
	}
	for _, tt := range tests {
		if got := (cards.Card{Number: tt.number}).Brand(); got != tt.want {
			t.Errorf("Brand of %q: got %q, want %q", tt.number, got, tt.want)
		}
		key := cards.FingerprintKey("k")
		if got := key.Facts(cards.Card{Number: tt.number}).Brand; got != tt.want {
			t.Errorf("Facts(%q).Brand: got %q, want %q", tt.number, got, tt.want)
		}
	}
}

// TestCardNeverPrints checks every way a Card (or a Payment holding one)
// can be printed, logged or encoded.
func TestCardNeverPrints(t *testing.T) {
	c := cards.Card{Number: "4000 0566 5566 5556", ExpMonth: 12, ExpYear: 2030, CVC: "918"}
	p := cards.Payment{IdempotencyKey: "k1", Amount: 100, Currency: "SEK", Card: c}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%T %v"} {
		outputs = append(outputs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, p), fmt.Sprintf(verb, &p))
	}
	outputs = append(outputs, fmt.Sprint(c), fmt.Sprintln(p), c.String())
	// Without the time: a timestamp's digits can hold the CVC's by chance.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	for _, b := range []*bytes.Buffer{new(bytes.Buffer), new(bytes.Buffer)} {
		var h slog.Handler = slog.NewTextHandler(b, noTime)
		if len(outputs)%2 == 0 {
			h = slog.NewJSONHandler(b, noTime)
		}
		slog.New(h).Info("authorize", "card", c, "payment", p, slog.Any("ptr", &c))
		outputs = append(outputs, b.String())
	}
	for _, v := range []any{c, p, &c, map[string]any{"card": c}} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		outputs = append(outputs, string(j))
	}
	for _, out := range outputs {
		if l := leaks(out, c.Number); l != "" {
			t.Errorf("got %q in %q, want no run of six digits of the number", l, out)
		}
		if strings.Contains(out, c.CVC) {
			t.Errorf("got the CVC in %q", out)
		}
	}
	if got, want := c.String(), "visa ****5556"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("x", "card", c)
	if got, want := b.String(), `{"level":"INFO","msg":"x","card":{"brand":"visa","last4":"5556"}}`+"\n"; got != want {
		t.Errorf("slog JSON: got %s, want %s", got, want)
	}
	if got := (cards.Card{Number: "4242 42"}).String(); got != "visa ****" {
		t.Errorf("String of a short number: got %q, want %q", got, "visa ****")
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestCardDecodesFromAPI(t *testing.T) {
	var c cards.Card
	in := `{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}`
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	if c != want {
		t.Errorf("got %#v, want %#v", c.Number+"/"+c.CVC, want.Number+"/"+want.CVC)
	}
}

// TestCheckAll: every bad field is reported at once, in Check's order;
// skipped fields are not; a stand-in keeps the typed number's brand, so an
// Amex CVC of three digits is still wrong.
func TestCheckAll(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	fields := func(fes []*cards.FieldError) []string {
		var out []string
		for _, fe := range fes {
			out = append(out, fe.Field+":"+fe.Code)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		card cards.Card
		skip []string
		want []string
	}{
		{"valid", cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}, nil, nil},
		{"every field", cards.Card{Number: "4242 4242 4242 4241", ExpMonth: 13, ExpYear: 2020, CVC: "12"}, nil,
			[]string{cards.FieldNumber + ":" + cards.CodeInvalidNumber, cards.FieldExpMonth + ":" + cards.CodeInvalidExpiry, cards.FieldExpYear + ":" + cards.CodeExpiredCard, cards.FieldCVC + ":" + cards.CodeInvalidCVC}},
		{"expired this year", cards.Card{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2026, CVC: "123"}, nil,
			[]string{cards.FieldExpMonth + ":" + cards.CodeExpiredCard}},
		{"skipped", cards.Card{Number: "", ExpMonth: 0, ExpYear: 2030, CVC: "1"}, []string{cards.FieldNumber, cards.FieldExpMonth},
			[]string{cards.FieldCVC + ":" + cards.CodeInvalidCVC}},
		{"amex stand-in", cards.Card{Number: "3782 822463 10004", ExpMonth: 12, ExpYear: 2030, CVC: "123"}, nil,
			[]string{cards.FieldNumber + ":" + cards.CodeInvalidNumber, cards.FieldCVC + ":" + cards.CodeInvalidCVC}},
	} {
		if got := fields(cards.CheckAll(tc.card, now, tc.skip...)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
