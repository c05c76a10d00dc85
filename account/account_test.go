package account_test

import (
	"errors"
	"strings"
	"testing"

	"kassa/account"

	"pgregory.net/rapid"
)

// TestSpelling pins every name byte for byte: they are in stored, signed
// entries, so a change here would split the ledger.
func TestSpelling(t *testing.T) {
	const o, c, r = "ord_abc", "con_xyz", "eu-north"
	tests := []struct {
		got, want string
		kind      account.Kind
	}{
		{account.CaptureRights(o).In(r), "order:ord_abc:capture:eu-north", account.KindCaptureRights},
		{account.RefundRights(o).In(r), "order:ord_abc:refund:eu-north", account.KindRefundRights},
		{account.DebtRights(o).In(r), "order:ord_abc:debt:eu-north", account.KindDebtRights},
		{account.CreditRights(c).In(r), "credit:con_xyz:rights:eu-north", account.KindCreditRights},
		{account.CreditLimit(c), "credit:con_xyz:limit", account.KindCreditLimit},
		{account.CreditExposure(c), "credit:con_xyz:exposure", account.KindCreditExposure},
		{account.CreditUnsecured(c), "credit:con_xyz:unsecured", account.KindCreditUnsecured},
		{account.UnsecuredBudget(r), "unsecured:eu-north", account.KindUnsecuredBudget},
		{account.Authorized(o), "order:ord_abc:authorized", account.KindAuthorized},
		{account.Owed(o), "order:ord_abc:owed", account.KindOwed},
		{account.Repaid(o), "order:ord_abc:repaid", account.KindRepaid},
		{account.Refunded(o), "order:ord_abc:refunded", account.KindRefunded},
		{account.MerchantPayable("demo"), "merchant:demo:payable", account.KindMerchantPayable},
		{account.ConsumerReceivable(c), "consumer:con_xyz:receivable", account.KindConsumerReceivable},
		{account.ConsumerBalance(c), "consumer:con_xyz:balance", account.KindConsumerBalance},
		{account.AcquirerClearing("simulated"), "acquirer:simulated:clearing", account.KindAcquirerClearing},
		{account.Revenue, "kassa:revenue", account.KindRevenue},
		{account.BankRepayments, "bank:repayments", account.KindBankRepayments},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
			n, err := account.Parse(tt.got)
			if err != nil {
				t.Fatal(err)
			}
			if n.Kind != tt.kind {
				t.Errorf("kind: got %v, want %v", n.Kind, tt.kind)
			}
			if s := n.String(); s != tt.want {
				t.Errorf("String: got %q, want %q", s, tt.want)
			}
		})
	}
	for _, tt := range []struct{ got, want string }{
		{account.CaptureRights(o).Prefix(), "order:ord_abc:capture:"},
		{account.RefundRights(o).Prefix(), "order:ord_abc:refund:"},
		{account.DebtRights(o).Prefix(), "order:ord_abc:debt:"},
		{account.CreditRights(c).Prefix(), "credit:con_xyz:rights:"},
		{account.CreditPrefix(c), "credit:con_xyz:"},
		{account.LineSubject(c, "EUR"), "credit:con_xyz:EUR"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseParts(t *testing.T) {
	n, err := account.Parse("order:ord_abc:refund:us-east")
	if err != nil {
		t.Fatal(err)
	}
	if want := (account.Name{Kind: account.KindRefundRights, ID: "ord_abc", Region: "us-east"}); n != want {
		t.Errorf("got %+v", n)
	}
	r, ok := n.Rights()
	if !ok || r != account.RefundRights("ord_abc") {
		t.Errorf("Rights: got %+v, %v, want the order's refund rights", r, ok)
	}
	owed := account.Name{Kind: account.KindOwed, ID: "ord_abc"}
	if _, ok := owed.Rights(); ok {
		t.Error("owed is not a rights account")
	}
	budget := account.Name{Kind: account.KindUnsecuredBudget, Region: "eu"}
	if _, ok := budget.Rights(); ok {
		t.Error("an unsecured budget is per region but not transferred")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"", ":", "order", "order:", "order:o", "order:o:", "order:o:capture", "order:o:capture:",
		"order::capture:eu", "order:o:capture:eu:x", "order:o:rights:eu", "order:o:owed:eu",
		"credit:c:rights", "credit:c:limit:eu", "credit:c:EUR", "unsecured:", "unsecured:eu:x",
		"kassa:profit", "kassa", "bank:revenue", "kassa:repayments", "merchant:m:receivable", "Merchant:m:payable", "merchant:M:payable",
		"merchant:m:payable ", "consumer:c d:receivable", "acquirer:a:clearing:eu", "bank:b:clearing",
	} {
		if n, err := account.Parse(s); !errors.Is(err, account.ErrMalformed) {
			t.Errorf("Parse(%q): got %+v, %v, want ErrMalformed", s, n, err)
		}
	}
}

func TestParseRights(t *testing.T) {
	for _, r := range []account.Rights{
		account.CaptureRights("ord_a"), account.RefundRights("ord_a"),
		account.DebtRights("ord_a"), account.CreditRights("con_b"),
	} {
		got, err := account.ParseRights(r.Prefix())
		if err != nil || got != r {
			t.Errorf("ParseRights(%q): got %+v, %v, want %+v", r.Prefix(), got, err, r)
		}
	}
	for _, s := range []string{
		"", "order:o:capture", "order:o:capture:eu", "order:o:owed:", "unsecured:",
		"credit:c:limit:", "order::capture:", "credit:c:rights::", "x:order:o:capture:",
	} {
		if r, err := account.ParseRights(s); !errors.Is(err, account.ErrMalformed) {
			t.Errorf("ParseRights(%q): got %+v, %v, want ErrMalformed", s, r, err)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{account.CreditRights("con_a").Prefix(), "credit:con_a:rights:here"},
		{account.UnsecuredBudget("there"), "unsecured:there"},
		{account.CreditRights("con_a").In("there"), "credit:con_a:rights:there"},
	} {
		if got := account.Resolve(tt.in, "here"); got != tt.want {
			t.Errorf("Resolve(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	l, err := account.ParseLine("credit:con_a:SEK")
	if err != nil || l != (account.Line{Consumer: "con_a", Currency: "SEK"}) {
		t.Fatalf("got %+v, %v", l, err)
	}
	for _, s := range []string{"", "credit:", "credit:con_a", "credit:con_a:sek", "credit:con_a:SEKX",
		"credit::SEK", "credit:con_a:rights:", "credit:a:b:SEK", "order:o:SEK"} {
		if l, err := account.ParseLine(s); !errors.Is(err, account.ErrMalformed) {
			t.Errorf("ParseLine(%q): got %+v, %v, want ErrMalformed", s, l, err)
		}
	}
}

func TestMalformedErrorIsShort(t *testing.T) {
	_, err := account.Parse(strings.Repeat("x", 10_000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("got an error of %d bytes, want a short one", len(err.Error()))
	}
}

var (
	part     = rapid.StringMatching(`[a-z0-9._-]{1,24}`)
	currency = rapid.StringMatching(`[A-Z]{3}`)
)

// builders build every kind of name from an id and a region.
var builders = map[string]func(id, region string) string{
	"capture":    func(id, r string) string { return account.CaptureRights(id).In(r) },
	"refund":     func(id, r string) string { return account.RefundRights(id).In(r) },
	"debt":       func(id, r string) string { return account.DebtRights(id).In(r) },
	"rights":     func(id, r string) string { return account.CreditRights(id).In(r) },
	"limit":      func(id, _ string) string { return account.CreditLimit(id) },
	"exposure":   func(id, _ string) string { return account.CreditExposure(id) },
	"unsecured":  func(id, _ string) string { return account.CreditUnsecured(id) },
	"budget":     func(_, r string) string { return account.UnsecuredBudget(r) },
	"authorized": func(id, _ string) string { return account.Authorized(id) },
	"owed":       func(id, _ string) string { return account.Owed(id) },
	"repaid":     func(id, _ string) string { return account.Repaid(id) },
	"refunded":   func(id, _ string) string { return account.Refunded(id) },
	"payable":    func(id, _ string) string { return account.MerchantPayable(id) },
	"receivable": func(id, _ string) string { return account.ConsumerReceivable(id) },
	"clearing":   func(id, _ string) string { return account.AcquirerClearing(id) },
	"revenue":    func(_, _ string) string { return account.Revenue },
	"repayments": func(_, _ string) string { return account.BankRepayments },
}

// TestRoundTrip: whatever valid id and region a name is built from, Parse
// gives them back and String rebuilds the same bytes.
func TestRoundTrip(t *testing.T) {
	var names []string
	for k := range builders {
		names = append(names, k)
	}
	rapid.Check(t, func(t *rapid.T) {
		build := builders[rapid.SampledFrom(names).Draw(t, "kind")]
		id, region := part.Draw(t, "id"), part.Draw(t, "region")
		s := build(id, region)
		n, err := account.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got := n.String(); got != s {
			t.Fatalf("String: got %q, want %q", got, s)
		}
		if n.ID != "" && n.ID != id {
			t.Fatalf("ID: got %q, want %q", n.ID, id)
		}
		if n.Kind.PerRegion() != (n.Region != "") || n.Region != "" && n.Region != region {
			t.Fatalf("Region: got %q for %v, built with %q", n.Region, n.Kind, region)
		}
		if r, ok := n.Rights(); ok {
			if r.In(region) != s {
				t.Fatalf("Rights.In: got %q, want %q", r.In(region), s)
			}
			back, err := account.ParseRights(r.Prefix())
			if err != nil || back != r {
				t.Fatalf("ParseRights(%q): got %+v, %v, want %+v", r.Prefix(), back, err, r)
			}
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		l := account.Line{Consumer: part.Draw(t, "consumer"), Currency: currency.Draw(t, "currency")}
		back, err := account.ParseLine(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLine(%q): got %+v, %v, want %+v", l.String(), back, err, l)
		}
	})
}

// TestParseTotal: Parse never panics, and what it accepts it gives back
// byte for byte.
func TestParseTotal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(
			rapid.String(),
			rapid.StringMatching(`[a-z:]{0,5}(:[a-zA-Z0-9._ -]{0,4}){0,5}:?`),
			rapid.StringMatching(`(order|credit|unsecured|merchant|consumer|acquirer|kassa)(:(capture|refund|debt|rights|limit|owed|payable|revenue|x|)){0,4}`),
		).Draw(t, "s")
		checkParse(t, s)
	})
}

func checkParse(t interface{ Fatalf(string, ...any) }, s string) {
	if n, err := account.Parse(s); err == nil && n.String() != s {
		t.Fatalf("Parse(%q) = %+v, which spells %q", s, n, n.String())
	}
	if r, err := account.ParseRights(s); err == nil && r.Prefix() != s {
		t.Fatalf("ParseRights(%q) = %+v, whose prefix is %q", s, r, r.Prefix())
	}
	if l, err := account.ParseLine(s); err == nil && l.String() != s {
		t.Fatalf("ParseLine(%q) = %+v, which spells %q", s, l, l.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"order:ord_abc:capture:eu", "credit:con_a:rights:", "credit:con_a:EUR", "unsecured:eu",
		"kassa:revenue", "merchant:demo:payable", "order::", ":::", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParse(t, s) })
}
