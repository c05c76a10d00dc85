package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kassa/checkout"
)

func TestCapturePage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, nonce := b.orderForm(e.order)
	capture := func(nonce, amount, reason string) page {
		return b.post(path+"/capture", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "amount": {amount}, "amount_unit": {"major"}, "reason": {reason}})
	}
	if p := b.get(path); !strings.Contains(p.body, `action="`+path+`/capture"`) || !strings.Contains(p.body, `value="10.00"`) {
		t.Fatalf("no capture form offering 10.00:\n%s", text(p.body))
	}

	t.Run("bad input", func(t *testing.T) {
		n := e.store.Count()
		for _, tc := range []struct{ amount, reason, want string }{
			{"", "shipped", "Enter the amount to capture"},
			{"abc", "shipped", "Enter the amount to capture in SEK"},
			{"-1", "shipped", "Enter the amount to capture in SEK"},
			{"1.00", "", "Enter a reason"},
			{"10.01", "shipped", "more than the 10.00 SEK that can be captured"},
		} {
			p := capture(nonce, tc.amount, tc.reason)
			wantText(t, tc.amount+"/"+tc.reason, p, http.StatusUnprocessableEntity, "There is a problem", tc.want)
			if !strings.Contains(p.body, `value="`+tc.amount+`"`) {
				t.Errorf("%q: the amount typed is not kept", tc.amount)
			}
		}
		wantCount(t, "bad input", e.store, n)
		if o := orderNow(t, e, e.order); o.Captured != 0 {
			t.Fatalf("got captured %d, want 0", o.Captured)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		v := signIn(t, e, "viewer")
		p := v.get(path)
		if strings.Contains(p.body, `action="`+path+`/capture"`) {
			t.Error("a viewer sees the capture form")
		}
		n := e.store.Count()
		p = v.post(path+"/capture", url.Values{"csrf_token": {field(t, csrfRe, p.body)}, "nonce": {nonce}, "amount": {"1"}, "reason": {"x"}})
		wantText(t, "viewer captures", p, http.StatusForbidden, "Not allowed", "viewer")
		wantCount(t, "viewer", e.store, n)
	})

	t.Run("no CSRF token", func(t *testing.T) {
		n := e.store.Count()
		p := b.post(path+"/capture", url.Values{"nonce": {nonce}, "amount": {"1"}, "reason": {"x"}})
		wantText(t, "no token", p, http.StatusForbidden, "expired")
		wantCount(t, "no CSRF", e.store, n)
	})

	t.Run("capture twice with one form", func(t *testing.T) {
		for i := range 2 {
			p := capture(nonce, "4", "Shipped the first parcel")
			want := "Captured 4.00 SEK."
			if i == 1 {
				want = "already recorded"
			}
			wantText(t, "after the capture", b.follow(p), http.StatusOK, want)
		}
		if o := orderNow(t, e, e.order); o.Captured != 400 || o.Status != "part_captured" {
			t.Fatalf("got captured %d status %q, want 400 part_captured", o.Captured, o.Status)
		}
		captures := entryData(t, e.store, string(e.order), checkout.KindOrderCaptured)
		if len(captures) != 1 || captures[0]["amount"] != float64(400) {
			t.Fatalf("got capture entries %v, want one of 400", captures)
		}
		wantActor(t, "capture entry", captures[0], "agent", "support", "Shipped the first parcel")
		if actions := staffActions(t, e.store, string(e.order)); len(actions) != 0 {
			t.Fatalf("got staff.action entries %v, want none", actions)
		}
		wantText(t, "timeline", b.get(path), http.StatusOK, "by agent (support); reason: Shipped the first parcel", "At most 6.00 SEK")
	})
}

func TestReleasePage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	wantText(t, "nothing captured", b.get(path), http.StatusOK, "Only a partly captured order has a rest to release")
	csrf, nonce := b.orderForm(e.order)
	wantText(t, "capture", b.follow(b.post(path+"/capture", url.Values{"csrf_token": {csrf}, "nonce": {nonce},
		"amount": {"3"}, "amount_unit": {"major"}, "reason": {"Part shipped"}})), http.StatusOK, "Captured 3.00 SEK.")

	csrf, nonce = b.orderForm(e.order)
	if p := b.get(path); !strings.Contains(text(p.body), "Releases the 7.00 SEK") {
		t.Fatalf("no release form for the 7.00 SEK not captured:\n%s", text(p.body))
	}
	n := e.store.Count()
	wantText(t, "no reason", b.post(path+"/release", url.Values{"csrf_token": {csrf}, "nonce": {nonce}}),
		http.StatusUnprocessableEntity, "Enter a reason")
	v := signIn(t, e, "viewer")
	wantText(t, "viewer releases", v.post(path+"/release", url.Values{"csrf_token": {field(t, csrfRe, v.get(path).body)},
		"nonce": {nonce}, "reason": {"x"}}), http.StatusForbidden, "Not allowed")
	wantCount(t, "refused", e.store, n)

	for range 2 {
		p := b.post(path+"/release", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "reason": {"Rest out of stock"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("release: got %d:\n%s", p.status, text(p.body))
		}
	}
	if o := orderNow(t, e, e.order); o.Released != 700 || o.Status != "captured" {
		t.Fatalf("got released %d status %q, want 700 captured", o.Released, o.Status)
	}
	releases := entryData(t, e.store, string(e.order), checkout.KindOrderReleased)
	if len(releases) != 1 {
		t.Fatalf("got release entries %v, want one", releases)
	}
	wantActor(t, "release entry", releases[0], "agent", "support", "Rest out of stock")
	p := b.post(path+"/release", url.Values{"csrf_token": {csrf}, "nonce": {"another-form-0123456789"}, "reason": {"again"}})
	wantText(t, "release again", p, http.StatusConflict, "Not possible for this order now", "Nothing was changed")
}

func TestExtendPage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, nonce := b.orderForm(e.order)
	before := orderNow(t, e, e.order).ExpiresAt
	n := e.store.Count()
	wantText(t, "no reason", b.post(path+"/extend", url.Values{"csrf_token": {csrf}, "nonce": {nonce}}),
		http.StatusUnprocessableEntity, "Enter a reason")
	v := signIn(t, e, "viewer")
	wantText(t, "viewer extends", v.post(path+"/extend", url.Values{"csrf_token": {field(t, csrfRe, v.get(path).body)},
		"nonce": {nonce}, "reason": {"x"}}), http.StatusForbidden, "Not allowed")
	wantCount(t, "refused", e.store, n)

	wantText(t, "extend", b.follow(b.post(path+"/extend", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "reason": {"Shipping is late"}})),
		http.StatusOK, "The authorization now expires on")
	if after := orderNow(t, e, e.order).ExpiresAt; !after.After(before) {
		t.Fatalf("got expiry %s, want later than %s", after, before)
	}
	ext := entryData(t, e.store, string(e.order), checkout.KindOrderExtended)
	if len(ext) != 1 {
		t.Fatalf("got extension entries %v, want one", ext)
	}
	wantActor(t, "extension entry", ext[0], "agent", "support", "Shipping is late")

	// Extend up to the 180-day cap: then the form is gone, and a form from
	// before gets checkout's reason, with nothing changed.
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("the authorization is still extendable after 10 extensions")
		}
		p := b.get(path)
		if !strings.Contains(text(p.body), "Moves the expiry") {
			wantText(t, "at the cap", p, http.StatusOK, "180 days after it was authorized: it cannot be extended further")
			break
		}
		b.follow(b.post(path+"/extend", url.Values{"csrf_token": {csrf}, "nonce": {field(t, nonceRe, p.body)}, "reason": {"Still late"}}))
	}
	n = e.store.Count()
	p := b.post(path+"/extend", url.Values{"csrf_token": {csrf}, "nonce": {"a-form-from-before-012345"}, "reason": {"once more"}})
	wantText(t, "beyond the cap", p, http.StatusConflict, "Not possible for this order now", "cannot be extended beyond 180 days")
	wantCount(t, "beyond the cap", e.store, n)
}
