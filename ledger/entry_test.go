package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"kassa/ledger"
)

func TestEntryRoundTrip(t *testing.T) {
	r := newRegion("r1")
	for _, e := range signedChain(r, 5, rand.New(rand.NewPCG(1, 2))) {
		b, _ := e.MarshalBinary()
		got, err := ledger.DecodeEntry(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.ID() != e.ID() {
			t.Fatalf("got id %s, want %s", got.ID(), e.ID())
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatal("re-encoding differs")
		}
		if err := got.VerifySignature(r.key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
}

func TestEntrySignatureCoversEveryField(t *testing.T) {
	r := newRegion("r1")
	base := signedChain(r, 2, rand.New(rand.NewPCG(3, 4)))[1]
	pub := r.key.Public().(ed25519.PublicKey)
	for name, mutate := range map[string]func(e *ledger.Entry){
		"origin":   func(e *ledger.Entry) { e.Origin = "r2" },
		"seq":      func(e *ledger.Entry) { e.Seq++ },
		"prev":     func(e *ledger.Entry) { e.Prev[0] ^= 1 },
		"hlc":      func(e *ledger.Entry) { e.HLC.Logical++ },
		"kind":     func(e *ledger.Entry) { e.Kind = "order.refunded" },
		"subject":  func(e *ledger.Entry) { e.Subject += "x" },
		"account":  func(e *ledger.Entry) { e.Postings[0].Account += "x" },
		"amount":   func(e *ledger.Entry) { e.Postings[0].Amount++; e.Postings[1].Amount-- },
		"currency": func(e *ledger.Entry) { e.Postings[0].Currency = "EUR"; e.Postings[1].Currency = "EUR" },
		"data":     func(e *ledger.Entry) { e.Data = []byte(`{"n":-1}`) },
	} {
		t.Run(name, func(t *testing.T) {
			e := base
			e.Postings = append([]ledger.Posting(nil), base.Postings...)
			mutate(&e)
			if err := e.VerifySignature(pub); !errors.Is(err, ledger.ErrSignature) {
				t.Fatalf("got %v, want ErrSignature", err)
			}
			if e.ID() == base.ID() {
				t.Fatal("id did not change")
			}
		})
	}
}

func TestDraftValidate(t *testing.T) {
	ok := sale(1, 100)
	tests := []struct {
		name   string
		mutate func(d *ledger.Draft)
		want   error
		text   string
	}{
		{"valid", func(d *ledger.Draft) {}, nil, ""},
		{"no postings", func(d *ledger.Draft) { d.Postings = nil }, nil, ""},
		{"unbalanced", func(d *ledger.Draft) { d.Postings[0].Amount = 101 }, ledger.ErrUnbalanced, "SEK postings sum to 1"},
		{"unbalanced per currency", func(d *ledger.Draft) { d.Postings[1].Currency = "EUR" }, ledger.ErrUnbalanced, "sum to"},
		{"zero amount", func(d *ledger.Draft) { d.Postings[0].Amount = 0; d.Postings[1].Amount = 0 }, ledger.ErrMalformed, "amount is zero"},
		{"huge amount", func(d *ledger.Draft) { d.Postings[0].Amount = 1 << 62; d.Postings[1].Amount = -(1 << 62) }, ledger.ErrMalformed, "out of range"},
		{"bad currency", func(d *ledger.Draft) { d.Postings[0].Currency = "sek" }, ledger.ErrMalformed, "currency"},
		{"bad account", func(d *ledger.Draft) { d.Postings[0].Account = "Consumer 1" }, ledger.ErrMalformed, "account"},
		{"empty kind", func(d *ledger.Draft) { d.Kind = "" }, ledger.ErrMalformed, "kind"},
		{"subject with newline", func(d *ledger.Draft) { d.Subject = "a\nb" }, ledger.ErrMalformed, "subject"},
		{"long subject", func(d *ledger.Draft) { d.Subject = strings.Repeat("s", 257) }, ledger.ErrMalformed, "subject"},
		{"data not json", func(d *ledger.Draft) { d.Data = []byte("nope") }, ledger.ErrMalformed, "JSON object"},
		{"data json array", func(d *ledger.Draft) { d.Data = []byte("[1]") }, ledger.ErrMalformed, "JSON object"},
		{"data too big", func(d *ledger.Draft) { d.Data = []byte(`{"a":"` + strings.Repeat("x", 70000) + `"}`) }, ledger.ErrMalformed, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			d.Postings = append([]ledger.Posting(nil), ok.Postings...)
			tt.mutate(&d)
			err := d.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v, want %v containing %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	e := signedChain(newRegion("r1"), 1, rand.New(rand.NewPCG(5, 6)))[0]
	b, _ := e.MarshalBinary()
	for name, in := range map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)-70],
		"trailing":  append(append(append([]byte(nil), b[:len(b)-64]...), 0), b[len(b)-64:]...),
		"bad tag":   append([]byte("xxxxxxxx"), b[8:]...),
	} {
		if _, err := ledger.DecodeEntry(in); !errors.Is(err, ledger.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestDigestIsOrderIndependent(t *testing.T) {
	es := signedChain(newRegion("r1"), 50, rand.New(rand.NewPCG(7, 8)))
	var a, b ledger.Digest
	for i := range es {
		a = a.Add(es[i].ID())
		b = b.Add(es[len(es)-1-i].ID())
	}
	if a != b {
		t.Fatalf("got %s, want %s", b, a)
	}
	var ff ledger.Hash
	for i := range ff {
		ff[i] = 0xff
	}
	var one ledger.Hash
	one[31] = 1
	if got := (ledger.Digest{}).Add(ff).Add(one); got != (ledger.Digest{}) {
		t.Fatalf("got %s, want zero (wrap modulo 2^256)", got)
	}
}
