package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"kassa/httperr"
	"kassa/ledger"
)

// rightsPath is where rights requests go.
const rightsPath = "/sync/v1/rights"

// MaxRightsBodyBytes bounds a rights request's body: a few ids, an amount
// and the asker's vector. A larger one is refused unread.
const MaxRightsBodyBytes = 64 << 10

// rightsKey marks a rights request's context, for the retry policy.
type rightsKey struct{}

// RightsGranter transfers rights this region owns to another region by
// writing a transfer entry. Checkout implements it for order rights.
type RightsGranter interface {
	GrantRights(ctx context.Context, subject, account, to string, amount int64) (ledger.Entry, error)
}

// SetGranter sets who answers peers' rights requests. Without one, rights
// requests are refused.
func (n *Node) SetGranter(g RightsGranter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.granter = g
}

// RightsRequest is the body of POST /sync/v1/rights: a region short of
// rights asks the owner to transfer amount of them on subject's account
// (a prefix ending in ':'; the region ids follow it).
type RightsRequest struct {
	From    string            `json:"from"`
	Subject string            `json:"subject"`
	Account string            `json:"account"`
	Amount  int64             `json:"amount"`
	Vector  map[string]uint64 `json:"vector"`
}

// RightsResponse carries the transfer and every entry of the owner's that
// the requester lacks up to it: a transfer is useless to the requester until
// it holds the owner's earlier entries.
type RightsResponse struct {
	Transfer string   `json:"transfer"` // id of the transfer entry
	Entries  [][]byte `json:"entries"`
}

func (n *Node) serveRights(w http.ResponseWriter, r *http.Request, from string, body []byte) {
	var req RightsRequest
	if err := decodeStrict(body, &req); err != nil || req.From != from || req.Amount <= 0 || req.Subject == "" || req.Account == "" {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "body is not a rights request from the signing region"})
		return
	}
	n.mu.Lock()
	g := n.granter
	n.mu.Unlock()
	if g == nil {
		n.refuse(w, r, from, &requestError{http.StatusConflict, "rights_unavailable", "this region grants no rights"})
		return
	}
	e, err := g.GrantRights(r.Context(), req.Subject, req.Account, from, req.Amount)
	if n.rightsAbandoned(r, from, err) {
		return
	}
	if err != nil {
		// Only "I have none to give" is rights_unavailable: the asker
		// takes it as the limit. Anything else is no answer about the
		// rights, and the asker degrades as if this region were away.
		refusal := httperr.Error{Status: http.StatusUnprocessableEntity, Code: "cannot_grant", Message: err.Error()}
		var tmp interface{ Temporary() bool }
		var none interface{ NoRights() bool }
		switch {
		case errors.As(err, &tmp) && tmp.Temporary():
			refusal.Status, refusal.Code, refusal.RetryAfter = http.StatusServiceUnavailable, "try_later", 1
		case errors.As(err, &none) && none.NoRights(), errors.Is(err, ledger.ErrInsufficient):
			refusal.Status, refusal.Code = http.StatusConflict, "rights_unavailable"
		default:
			n.log.Warn("could not grant rights", "from", from, "subject", req.Subject, "err", err)
		}
		n.m.refused(refusal.Code)
		httperr.Write(w, refusal)
		return
	}
	n.m.granted()
	// Send the owner's chain from the requester's position up to the
	// transfer, plus what else it lacks, within a bounded body.
	// The stored bytes are the wire form: nothing is decoded or encoded.
	have := req.Vector[string(e.Origin)]
	ws, err := n.store.WireAfter(r.Context(), e.Origin, have, int(e.Seq-min(have, e.Seq)))
	if n.rightsAbandoned(r, from, err) {
		return // the transfer is committed: the asker gets it with the next push
	}
	if err != nil {
		n.refuse(w, r, from, &requestError{http.StatusServiceUnavailable, "storage", "could not read entries; retry later"})
		return
	}
	resp := RightsResponse{Transfer: e.ID().String()}
	size := 0
	for _, w := range ws {
		size += len(w.Body) * 2
		if int64(size) > n.cfg.MaxBodyBytes/2 {
			break
		}
		resp.Entries = append(resp.Entries, w.Body)
	}
	writeJSON(w, http.StatusOK, resp)
}

// rightsAbandoned reports whether err came from the asker no longer
// waiting (its decision's budget for rights passed, and it answered its
// shopper without them): then no one reads the answer and nothing here
// failed, so it is logged at debug level and neither answered nor counted
// as a refusal.
func (n *Node) rightsAbandoned(r *http.Request, from string, err error) bool {
	if err == nil || r.Context().Err() == nil {
		return false
	}
	n.log.Debug("rights request abandoned by the asker", "from", from, "err", err)
	return true
}

// RequestRights asks owner for amount of rights on subject's account and
// applies the entries that carry the transfer. It returns an error if the
// owner refused, could not be reached, or its answer did not bring the
// transfer (then the push will, and a retry succeeds). An owner that is
// Down is not asked, except by one probe per Settings.Interval bounded by
// DownProbeBudget: the error is then a *PeerDownError, at once.
func (n *Node) RequestRights(ctx context.Context, owner, subject, account string, amount int64) error {
	n.mu.Lock()
	p := n.peers[owner]
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("sync: %w %q", ErrUnknownPeer, owner)
	}
	// A peer known to be down is not waited on: it gets one short probe
	// per interval, and every other request fails at once.
	ctx, cancel, probe, err := n.rightsGate(ctx, p)
	if err != nil {
		return err
	}
	defer cancel()
	budget := time.Duration(1<<63 - 1)
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl)
	}
	body, _ := json.Marshal(RightsRequest{From: string(n.store.Region()), Subject: subject, Account: account, Amount: amount, Vector: toVector(n.store.Vector())})
	var resp RightsResponse
	err = n.call(context.WithValue(ctx, rightsKey{}, true), p, http.MethodPost, rightsPath, "application/json", body, &resp)
	n.rightsAnswered(ctx, p, budget, probe, err)
	if err != nil {
		return err
	}
	// Decoded once, from the bytes that were sent (the store keeps them).
	if _, err := n.store.ApplyWire(ctx, resp.Entries); err != nil {
		if we := (*ledger.WireError)(nil); errors.As(err, &we) {
			return fmt.Errorf("sync: %s sent a malformed entry: %w", owner, err)
		}
		return err
	}
	id, err := ledger.ParseHash(resp.Transfer)
	if err != nil {
		return fmt.Errorf("sync: %s answered without a transfer id", owner)
	}
	if _, err := n.store.Entry(ctx, id); err != nil {
		return fmt.Errorf("sync: the transfer from %s has not arrived yet: %w", owner, err)
	}
	return nil
}
