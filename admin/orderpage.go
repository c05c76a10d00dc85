package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/checkout/webhook"
	"kassa/htmlpage"
	"kassa/outbox"
)

// orderPage is GET /admin/orders/{id}: the order, its timeline, its
// webhooks and the forms that act on it.
type orderPage struct {
	checkout.Order
	MerchantName string
	Entries      []entryRow
	Webhooks     []outbox.Delivery
	Captures     []movementRow
	Refunds      []movementRow

	// Acting: whether this staff member may, and what the order allows.
	CanAct      bool
	CanResend   bool
	Nonce       string
	Refundable  int64
	Cancellable bool
	Capturable  int64
	Releasable  int64
	Extendable  bool
	ExtendCap   bool // the authorization already lasts as long as it may
	Credit      bool
	Owed        int64

	// A form sent back with problems: its values and its errors, by
	// field id; FormError is an error about a whole form, by form name.
	Values    map[string]string
	Errors    map[string]string
	FormError map[string]string
}

type movementRow struct {
	What, Amount, Region string
	// Status is "" for done, else what a support agent needs to know:
	// waiting for the acquirer's answer, or refused and why.
	Status string
	At     time.Time
}

// movementRows shows an order's card or credit movements.
func movementRows(what string, ms []checkout.Movement, currency string) []movementRow {
	var out []movementRow
	for _, m := range ms {
		row := movementRow{What: what, Amount: money(m.Amount, currency), Region: m.Region, At: m.CreatedAt}
		if m.Type == "cancel" || m.Type == "release" || m.Type == "void" {
			row.What = map[string]string{"cancel": "Cancel (void)", "release": "Release (void)", "void": "Void of a duplicate"}[m.Type]
		}
		switch m.Status {
		case checkout.MovementPending:
			row.Status = "Waiting for the acquirer's answer"
		case checkout.MovementFailed:
			row.Status = "Refused by the acquirer: " + m.FailureCode
		}
		out = append(out, row)
	}
	return out
}

// entryRow is one ledger entry on the timeline.
type entryRow struct {
	TimelineEntry
	Short    string
	Summary  string
	Postings []postingRow
	Detail   string // the entry's data, indented
}

type postingRow struct{ Account, Amount string }

// form state for an order page sent back with problems.
type orderForm struct {
	status    int
	values    map[string]string
	errors    map[string]string
	formError map[string]string
	problems  []problem
}

func (f *orderForm) fieldError(form, field, msg string) {
	id := form + "-" + field
	f.errors[id] = msg
	f.problems = append(f.problems, problem{Target: id, Message: msg})
}

// amount reads a form's amount field in currency (what says what the amount
// is, such as "to refund"), keeps what was typed for the page, and records
// a field error if it is not a valid amount.
func (f *orderForm) amount(r *http.Request, form, what, currency string) int64 {
	raw := r.PostForm.Get("amount")
	f.values[form+"-amount"] = raw
	amount, err := formAmount(r, raw, currency)
	if err != nil {
		msg := fmt.Sprintf("Enter the amount %s in %s, like %s", what, currency, plainAmount(1250, currency))
		if strings.TrimSpace(raw) == "" {
			msg = "Enter the amount " + what
		}
		f.fieldError(form, "amount", msg)
	}
	return amount
}

func (f *orderForm) wholeError(form, msg string) {
	f.formError[form] = msg
	f.problems = append(f.problems, problem{Target: form + "-form", Message: msg})
}

func newOrderForm() *orderForm {
	return &orderForm{status: http.StatusOK, values: map[string]string{}, errors: map[string]string{}, formError: map[string]string{}}
}

// loadOrder reads the order named in the path, answering the page itself
// when there is none.
func (a *API) loadOrder(w http.ResponseWriter, r *http.Request, v *view) (OrderView, bool) {
	id := mux.Vars(r)["id"]
	if !strings.HasPrefix(id, "ord_") || len(id) > 64 {
		a.notFound(w, r, v, "order "+truncate(id, 64))
		return OrderView{}, false
	}
	ov, err := a.orderView(r.Context(), checkout.OrderID(id))
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		a.notFound(w, r, v, "order "+id)
		return OrderView{}, false
	case err != nil:
		a.internalError(w, r, v, err)
		return OrderView{}, false
	}
	return ov, true
}

// truncate cuts s to its first n runes and marks the cut with "…", so an
// echoed id never ends in half a character.
func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

func (a *API) orderPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, ok := a.loadOrder(w, r, v)
	if !ok {
		return
	}
	a.renderOrder(w, r, s, v, ov, newOrderForm())
}

func (a *API) renderOrder(w http.ResponseWriter, r *http.Request, s session, v *view, ov OrderView, f *orderForm) {
	o := ov.Order
	p := &orderPage{Order: o, MerchantName: a.svc.MerchantName(o.Merchant), Webhooks: ov.Webhooks,
		CanAct: roleRank[s.user.role] >= roleRank["support"], Values: f.values, Errors: f.errors, FormError: f.formError}
	p.CanResend = p.CanAct && a.webhooks != nil
	p.Refundable = o.Captured - o.Refunded
	p.Cancellable = (o.Status == "authorized" || o.Status == "expired") && o.Captured == 0 && o.Amount-o.Released > 0
	p.Credit = o.Method == "pay_later" || o.Method == "instalments"
	p.Capturable, p.Releasable = capturable(o, a.svc.Now()), releasable(o)
	p.Extendable, p.ExtendCap = extendable(o)
	if p.Credit {
		owed, _, err := a.svc.Debt(r.Context(), o.ID)
		if err == nil {
			p.Owed = owed
		}
	}
	p.Captures = movementRows("Capture", o.Captures, o.Currency)
	p.Refunds = append(movementRows("Refund", o.Refunds, o.Currency), movementRows("Void", o.Voids, o.Currency)...)
	for _, e := range ov.Entries {
		p.Entries = append(p.Entries, entryOf(e))
	}
	// A form sent back keeps its nonce, so sending it again after a
	// "try again shortly" cannot act twice; a fresh page gets a new one.
	p.Nonce = f.values["nonce"]
	if !nonceRe.MatchString(p.Nonce) {
		p.Nonce = randomToken()
	}
	if _, ok := f.values["capture-amount"]; !ok && p.Capturable > 0 {
		f.values["capture-amount"] = plainAmount(p.Capturable, o.Currency)
	}
	if _, ok := f.values["refund-amount"]; !ok && p.Refundable > 0 {
		f.values["refund-amount"] = plainAmount(p.Refundable, o.Currency)
	}
	v.Title = "Order " + string(o.ID) + " – kassa admin"
	v.Problems = f.problems
	v.Main = p
	a.render(w, r, f.status, "order", v)
}

// entryOf describes an entry for people: a one-line summary of what it
// did, its postings in the major unit and its data.
func entryOf(e TimelineEntry) entryRow {
	row := entryRow{TimelineEntry: e, Short: e.ID[:12]}
	for _, p := range e.Postings {
		row.Postings = append(row.Postings, postingRow{Account: p.Account, Amount: money(int64(p.Amount), p.Currency)})
	}
	var pretty bytes.Buffer
	if len(e.Data) > 0 && json.Indent(&pretty, e.Data, "", "  ") == nil {
		row.Detail = pretty.String()
	}
	var d map[string]any
	if json.Unmarshal(e.Data, &d) != nil {
		return row
	}
	str := func(k string) string { s, _ := d[k].(string); return s }
	num := func(k string) (int64, bool) { f, ok := d[k].(float64); return int64(f), ok }
	var parts []string
	switch e.Kind {
	case KindStaffAction:
		parts = append(parts, fmt.Sprintf("%s (%s): %s", str("staff"), str("role"), label(str("action"))))
		for _, kv := range actionDetail(d) {
			// Staff actions written before actions named their actor
			// carried the idempotency key among their details.
			if kv[1] != "" && kv[0] != "key" {
				parts = append(parts, kv[0]+": "+kv[1])
			}
		}
	case checkout.KindRightsTransferred:
		n, _ := num("amount")
		parts = append(parts, fmt.Sprintf("%s rights %d moved from %s to %s", str("rights"), n, str("from"), str("to")))
	default:
		if who := str("staff"); who != "" {
			// Done by staff: the entry itself names them (older ledgers
			// have a separate staff.action entry instead).
			if role := str("role"); role != "" {
				who += " (" + role + ")"
			}
			parts = append(parts, "by "+who)
		}
		if dec, ok := d["decision"].(map[string]any); ok {
			if out, _ := dec["outcome"].(string); out != "" {
				parts = append(parts, "decision: "+label(out))
			}
		}
		if s := str("reason"); s != "" {
			parts = append(parts, "reason: "+s)
		}
		if s := str("reference"); s != "" {
			parts = append(parts, "reference: "+s)
		}
	}
	row.Summary = strings.Join(parts, "; ")
	return row
}

func label(s string) string { return strings.ReplaceAll(s, "_", " ") }

// nonceRe is a form nonce: randomToken's output, or close enough.
var nonceRe = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

const maxReason = 500

// actionOn loads the order a form with a required reason was posted for
// and reads the form's nonce and reason. ok is false when the order could
// not be shown (the page has been answered).
func (a *API) actionOn(w http.ResponseWriter, r *http.Request, v *view, form string) (ov OrderView, f *orderForm, nonce, reason string, ok bool) {
	if ov, ok = a.loadOrder(w, r, v); !ok {
		return ov, nil, "", "", false
	}
	f = newOrderForm()
	nonce, reason = actionForm(r, form, f, true)
	return ov, f, nonce, reason, true
}

// formAccepted answers false, having answered the request, when the
// form's nonce is not valid or its fields have problems (the order page
// again, with the form as sent and what to fix).
func (a *API) formAccepted(w http.ResponseWriter, r *http.Request, s session, v *view, ov OrderView, f *orderForm, nonce string) bool {
	if !a.validNonce(w, r, v, nonce) {
		return false
	}
	if len(f.problems) > 0 {
		f.status = http.StatusUnprocessableEntity
		a.renderOrder(w, r, s, v, ov, f)
		return false
	}
	return true
}

// actionForm reads the nonce and the reason every order form carries.
func actionForm(r *http.Request, form string, f *orderForm, reasonRequired bool) (nonce, reason string) {
	nonce = r.PostForm.Get("nonce")
	reason = strings.TrimSpace(r.PostForm.Get("reason"))
	f.values["nonce"] = nonce
	f.values[form+"-reason"] = reason
	switch {
	case reasonRequired && reason == "":
		f.fieldError(form, "reason", "Enter a reason: it goes in the audit trail")
	case len(reason) > maxReason:
		f.fieldError(form, "reason", fmt.Sprintf("The reason must be %d characters or fewer", maxReason))
	}
	return nonce, reason
}

// opFailed shows why an operation on an order was refused, on the order
// page with the form as sent; nothing was changed. It answers false if err
// is not one it knows (the caller shows an internal error).
func (a *API) opFailed(w http.ResponseWriter, r *http.Request, s session, v *view, ov OrderView, f *orderForm, form string, err error) bool {
	var ae *checkout.AmountError
	var re *checkout.RefusedError
	cur := ov.Order.Currency
	switch {
	case errors.As(err, &ae):
		f.status = http.StatusUnprocessableEntity
		f.fieldError(form, "amount", fmt.Sprintf("The amount is more than the %s that can be %s", money(ae.Allowed, cur), ae.What))
	case errors.Is(err, checkout.ErrInvalidState):
		f.status = http.StatusConflict
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), checkout.ErrInvalidState.Error()), ": ")
		f.wholeError(form, "Not possible for this order now: "+msg+". Nothing was changed.")
	case errors.As(err, &re):
		f.status = http.StatusPaymentRequired
		f.wholeError(form, fmt.Sprintf("The card acquirer refused the %s (%s), so nothing was changed.", re.Op, re.Code))
	case errors.Is(err, checkout.ErrAcquirerUnavailable):
		f.status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		f.wholeError(form, "The card acquirer cannot be reached right now, so nothing was sent and nothing was changed. Try again shortly: sending this form again is safe.")
	case errors.Is(err, checkout.ErrRightsUnavailable), errors.Is(err, checkout.ErrNotReady):
		f.status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		f.wholeError(form, "The region that holds this order's rights cannot be reached right now, so nothing was changed. Try again shortly: sending this form again is safe.")
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		f.status = http.StatusConflict
		f.values["nonce"] = "" // this form's nonce is spent: offer a fresh one
		f.wholeError(form, "This form was already sent with a different amount. Check the timeline below before you try again.")
	case errors.Is(err, checkout.ErrNotFound):
		a.notFound(w, r, v, "order "+string(ov.Order.ID))
		return true
	default:
		return false
	}
	a.renderOrder(w, r, s, v, ov, f)
	return true
}

// refundAction answers POST /admin/orders/{id}/refund (amount, reason).
// The idempotency key comes from the form's nonce, so the same form sent
// twice refunds once.
func (a *API) refundAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, f, nonce, reason, ok := a.actionOn(w, r, v, "refund")
	if !ok {
		return
	}
	o := ov.Order
	amount := f.amount(r, "refund", "to refund", o.Currency)
	if !a.formAccepted(w, r, s, v, ov, f, nonce) {
		return
	}
	hash := checkout.RequestHash([]byte("admin refund"), []byte(strconv.FormatInt(amount, 10)))
	_, replayed, err := a.svc.RefundBy(r.Context(), actor(s.user, reason), o.Merchant, o.ID, staffKey(nonce), amount, hash)
	a.afterOp(w, r, s, v, ov, f, "refund", replayed, err,
		"Refunded "+money(amount, o.Currency)+".",
		"This refund was already recorded (the form was sent twice); nothing more was refunded.")
}

// afterOp answers an order action that checkout has carried out (or
// refused): the error on the order page, or a redirect back to the order
// saying what happened. The operation's entry names the staff member.
func (a *API) afterOp(w http.ResponseWriter, r *http.Request, s session, v *view, ov OrderView, f *orderForm,
	op string, replayed bool, err error, done, again string) {
	o := ov.Order
	if err != nil {
		// A card operation the acquirer refused, or could not be asked,
		// has written its request and its outcome: the page shows the
		// order as it is now, with them, not as it was before the form.
		if now, rerr := a.orderView(r.Context(), o.ID); rerr == nil {
			ov = now
		}
		if !a.opFailed(w, r, s, v, ov, f, op, err) {
			a.internalError(w, r, v, fmt.Errorf("%s %s: %w", op, o.ID, err))
		}
		return
	}
	path := orderPath(string(o.ID))
	if replayed {
		a.done(w, r, s, path, "success", again)
		return
	}
	a.done(w, r, s, path, "success", done)
}

// cancelAction answers POST /admin/orders/{id}/cancel (reason).
func (a *API) cancelAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, f, nonce, reason, ok := a.actionOn(w, r, v, "cancel")
	if !ok {
		return
	}
	o := ov.Order
	if !a.formAccepted(w, r, s, v, ov, f, nonce) {
		return
	}
	_, replayed, err := a.svc.CancelBy(r.Context(), actor(s.user, reason), o.Merchant, o.ID, staffKey(nonce), checkout.RequestHash([]byte("admin cancel")))
	a.afterOp(w, r, s, v, ov, f, "cancel", replayed, err,
		"The order is cancelled.", "This cancellation was already recorded (the form was sent twice).")
}

// repayAction answers POST /admin/orders/{id}/repayments (amount,
// reference, and an optional note): a repayment the consumer made that
// support registers by hand. The bank's reference makes it idempotent.
func (a *API) repayAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, ok := a.loadOrder(w, r, v)
	if !ok {
		return
	}
	o, f := ov.Order, newOrderForm()
	amount := f.amount(r, "repay", "repaid", o.Currency)
	ref := strings.TrimSpace(r.PostForm.Get("reference"))
	note := strings.TrimSpace(r.PostForm.Get("note"))
	f.values["repay-reference"], f.values["repay-note"] = ref, note
	switch {
	case ref == "":
		f.fieldError("repay", "reference", "Enter the bank's reference for the payment")
	case len(ref) > 128 || strings.ContainsAny(ref, "\r\n\t"):
		f.fieldError("repay", "reference", "The reference must be one line of 128 characters or fewer")
	}
	if len(note) > maxReason {
		f.fieldError("repay", "note", fmt.Sprintf("The note must be %d characters or fewer", maxReason))
	}
	if len(f.problems) > 0 {
		f.status = http.StatusUnprocessableEntity
		a.renderOrder(w, r, s, v, ov, f)
		return
	}
	res := a.repay(r.Context(), RepaymentLine{OrderID: string(o.ID), Amount: amount, Currency: o.Currency, Reference: ref}, false, actor(s.user, note))
	switch {
	case res.Status == "retry":
		f.status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		f.wholeError("repay", "The repayment could not be recorded right now ("+res.Error+"). Nothing was changed. Try again shortly: sending this form again is safe.")
	case res.refusal == refusedTooLarge:
		f.status = http.StatusUnprocessableEntity
		owed, _, _ := a.svc.Debt(r.Context(), o.ID)
		f.fieldError("repay", "amount", fmt.Sprintf("The amount is more than the %s still owed", money(owed, o.Currency)))
	case res.refusal == refusedNoOrder:
		a.notFound(w, r, v, "order "+string(o.ID))
		return
	case res.Status == "rejected":
		f.status = http.StatusUnprocessableEntity
		f.wholeError("repay", "Not recorded: "+res.Error+".")
	}
	if len(f.problems) > 0 {
		a.renderOrder(w, r, s, v, ov, f)
		return
	}
	path := orderPath(string(o.ID))
	if res.Status == "replayed" {
		a.done(w, r, s, path, "success", "A repayment with reference "+ref+" was already recorded; nothing more was added.")
		return
	}
	a.done(w, r, s, path, "success", "Recorded a repayment of "+money(res.Applied, o.Currency)+".")
}

// resendAction answers POST /admin/orders/{id}/webhooks/{event}/resend.
func (a *API) resendAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	ov, ok := a.loadOrder(w, r, v)
	if !ok {
		return
	}
	o, f := ov.Order, newOrderForm()
	event := mux.Vars(r)["event"]
	found := false
	for _, d := range ov.Webhooks {
		found = found || d.EventID == event
	}
	if a.webhooks == nil || !found {
		a.notFound(w, r, v, "webhook event "+truncate(event, 80)+" of order "+string(o.ID))
		return
	}
	// A resend writes no entry of its own (it queues a delivery in this
	// region's outbox), so its staff.action entry is its ledger record:
	// written first, and without it nothing is resent.
	if err := a.audit(r.Context(), s.user, string(o.ID), "webhook.resend", map[string]string{"event": event}); err != nil {
		a.internalError(w, r, v, fmt.Errorf("record resend of %s: %w", event, err))
		return
	}
	err := a.webhooks.Resend(r.Context(), event)
	switch {
	case errors.Is(err, webhook.ErrNoNotificationURL):
		f.status = http.StatusConflict
		f.wholeError("webhooks", "The order's session has no notification URL, so there is nowhere to send it.")
		a.renderOrder(w, r, s, v, ov, f)
		return
	case errors.Is(err, checkout.ErrNotFound):
		a.notFound(w, r, v, "webhook event "+truncate(event, 80))
		return
	case err != nil:
		a.internalError(w, r, v, fmt.Errorf("resend %s: %w", event, err))
		return
	}
	a.done(w, r, s, orderPath(string(o.ID)), "success", "The webhook is queued to be sent again.")
}

// validNonce checks a form's nonce; a form without one was not made by
// this UI.
func (a *API) validNonce(w http.ResponseWriter, r *http.Request, v *view, nonce string) bool {
	if nonceRe.MatchString(nonce) {
		return true
	}
	a.message(w, r, v, http.StatusBadRequest, messagePage{Heading: "This form is incomplete",
		Body: []string{"Nothing was changed. Reload the order and use its form."},
		Link: orderPath(mux.Vars(r)["id"]), LinkText: "Back to the order"})
	return false
}

// staffKey is the idempotency key of an operation sent from a form of the
// UI. Checkout derives the operation's id from it, the order and the
// merchant, so it cannot meet a merchant's own key.
func staffKey(nonce string) string { return "admin-ui:" + nonce }

// fieldView is one form field as the templates draw it.
type fieldView struct {
	htmlpage.Field
	Textarea, Required bool
	Max                int
}

// Field returns a field of the order's forms by id, with what was typed
// and its error.
func (p *orderPage) Field(id string) fieldView {
	f := fieldView{Field: htmlpage.Field{ID: id, Value: p.Values[id], Error: p.Errors[id]}, Required: true, Max: maxReason}
	switch id {
	case "refund-amount":
		f.Name, f.Label, f.InputMode, f.Width, f.Max = "amount", "Amount to refund ("+p.Currency+")", "decimal", "w-amount", 20
		f.Hint = "At most " + money(p.Refundable, p.Currency) + ", like " + plainAmount(1250, p.Currency) + "."
	case "repay-amount":
		f.Name, f.Label, f.InputMode, f.Width, f.Max = "amount", "Amount repaid ("+p.Currency+")", "decimal", "w-amount", 20
		f.Hint = "Still owed: " + money(p.Owed, p.Currency) + "."
	case "repay-reference":
		f.Name, f.Label, f.Max = "reference", "Bank reference", 128
		f.Hint = "As on the bank statement; a repayment is recorded once per reference."
	case "repay-note":
		f.Name, f.Label, f.Textarea, f.Required = "note", "Note", true, false
	case "capture-amount":
		f.Name, f.Label, f.InputMode, f.Width, f.Max = "amount", "Amount to capture ("+p.Currency+")", "decimal", "w-amount", 20
		f.Hint = "At most " + money(p.Capturable, p.Currency) + ", like " + plainAmount(1250, p.Currency) + "."
	case "refund-reason", "cancel-reason", "capture-reason", "release-reason", "extend-reason":
		f.Name, f.Label, f.Textarea = "reason", "Reason", true
		f.Hint = "Recorded in the audit trail with your name."
	}
	return f
}
