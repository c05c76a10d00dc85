package admin

import (
	"net/http"
	"strconv"
	"time"

	"kassa/checkout"
)

// What the order's status allows of the capture, release and extend
// forms. The checks mirror checkout's (which decides): a form is shown
// only when sending it can succeed, and a stale form gets checkout's
// reason back.

// capturable is what can still be captured now: the authorization not yet
// captured or released, while it has not expired.
func capturable(o checkout.Order, now time.Time) int64 {
	if (o.Status != "authorized" && o.Status != "part_captured") || now.After(o.ExpiresAt) {
		return 0
	}
	return max(0, o.Amount-o.Captured-o.Released)
}

// releasable is the rest of an authorization that has captures: what a
// release gives back (an order with no captures is cancelled instead).
func releasable(o checkout.Order) int64 {
	if o.Captured == 0 || o.Status != "part_captured" {
		return 0
	}
	return max(0, o.Amount-o.Captured-o.Released)
}

// extendable says whether the authorization can be extended, and if not
// because of the cap, until when it lasts.
func extendable(o checkout.Order) (ok, capped bool) {
	if o.Status != "authorized" && o.Status != "part_captured" {
		return false, false
	}
	if !o.ExpiresAt.Before(o.CreatedAt.Add(checkout.MaxAuthLifetime)) {
		return false, true
	}
	return true, false
}

// captureAction answers POST /admin/orders/{id}/capture (amount, reason).
// The idempotency key comes from the form's nonce, so the same form sent
// twice captures once.
func (a *API) captureAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, f, nonce, reason, ok := a.actionOn(w, r, v, "capture")
	if !ok {
		return
	}
	o := ov.Order
	amount := f.amount(r, "capture", "to capture", o.Currency)
	if !a.formAccepted(w, r, s, v, ov, f, nonce) {
		return
	}
	hash := checkout.RequestHash([]byte("admin capture"), []byte(strconv.FormatInt(amount, 10)))
	_, replayed, err := a.svc.CaptureBy(r.Context(), actor(s.user, reason), o.Merchant, o.ID, staffKey(nonce), amount, hash)
	a.afterOp(w, r, s, v, ov, f, "capture", replayed, err,
		"Captured "+money(amount, o.Currency)+".",
		"This capture was already recorded (the form was sent twice); nothing more was captured.")
}

// releaseAction answers POST /admin/orders/{id}/release (reason): the
// part of the authorization not captured is released.
func (a *API) releaseAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, f, nonce, reason, ok := a.actionOn(w, r, v, "release")
	if !ok {
		return
	}
	o := ov.Order
	if !a.formAccepted(w, r, s, v, ov, f, nonce) {
		return
	}
	rest := o.Amount - o.Captured - o.Released
	_, replayed, err := a.svc.ReleaseBy(r.Context(), actor(s.user, reason), o.Merchant, o.ID, staffKey(nonce), checkout.RequestHash([]byte("admin release")))
	a.afterOp(w, r, s, v, ov, f, "release", replayed, err,
		"Released the remaining "+money(rest, o.Currency)+" of the authorization.",
		"This release was already recorded (the form was sent twice).")
}

// extendAction answers POST /admin/orders/{id}/extend (reason).
func (a *API) extendAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, f, nonce, reason, ok := a.actionOn(w, r, v, "extend")
	if !ok {
		return
	}
	o := ov.Order
	if !a.formAccepted(w, r, s, v, ov, f, nonce) {
		return
	}
	after, replayed, err := a.svc.ExtendBy(r.Context(), actor(s.user, reason), o.Merchant, o.ID, staffKey(nonce), checkout.RequestHash([]byte("admin extend")))
	a.afterOp(w, r, s, v, ov, f, "extend", replayed, err,
		"The authorization now expires on "+after.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")+".",
		"This extension was already recorded (the form was sent twice).")
}
