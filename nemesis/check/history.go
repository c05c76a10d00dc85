package check

import (
	"encoding/json"
	"time"
)

// History is what the nemesis harness recorded of one run. Durations are
// offsets from Started.
type History struct {
	Regions  []string
	Started  time.Time
	Ops      []Op
	Faults   []Fault
	HealedAt time.Duration // offset from Started when the last fault ended
	Webhooks []Webhook     // deliveries the receiver got, duplicates included
	Final    Final

	// Lag holds replication lag samples taken during the run (optional);
	// they are reported and plotted, not judged.
	Lag []Sample
	// Convergences holds, for every heal the harness waited on (optional),
	// how long after that heal every digest was equal (-1: never). Final's
	// ConvergedAfter is always counted as well.
	Convergences []time.Duration
}

// Op is one logical operation sent through the failover client, with its
// final answer.
type Op struct {
	Kind     string // session, page, get, authorize, capture, refund, cancel, release
	Key      string // Idempotency-Key
	Session  string
	Order    string
	Consumer string // the shopper's email
	Method   string // pay_later, instalments, card
	Amount   int64  // requested minor units (0: all open)
	Start    time.Duration
	End      time.Duration
	Status   int             // HTTP status of the final answer; 0 if none
	Region   string          // region id that gave the final answer
	Outcome  string          // see the Outcome constants
	Body     json.RawMessage // the final answer's body (2xx and 4xx of the API; none for a page)
	Error    string          // the client's error, if it returned one
	// Elsewhere says the operation was sent first to a region other than
	// the one that created its session (it may have failed over from
	// there).
	Elsewhere bool
}

// Op kinds.
const (
	KindSession   = "session"
	KindPage      = "page" // a shopper opens the hosted checkout page
	KindGet       = "get"  // a merchant reads the order
	KindAuthorize = "authorize"
	KindCapture   = "capture"
	KindRefund    = "refund"
	KindCancel    = "cancel"
	KindRelease   = "release"
)

// Op outcomes. Answered operations are those with OutcomeOK,
// OutcomeDeclined or OutcomeRefused.
const (
	OutcomeOK          = "ok"          // 2xx
	OutcomeDeclined    = "declined"    // 402 on authorize
	OutcomeRefused     = "refused"     // 402 on an operation, 400/409 business refusal
	OutcomeUnavailable = "unavailable" // 503/429 to the end
	OutcomeTimeout     = "timeout"     // the client's deadline passed
	OutcomeError       = "error"       // anything else
)

// Fault is one fault the harness injected.
type Fault struct {
	Kind     string
	At       time.Duration
	Duration time.Duration
	Regions  []string
	Detail   string
}

// Webhook is one delivery the harness's receiver got.
type Webhook struct {
	EventID, Type, Order string
	At                   time.Duration
	// Processed is set by the receiver when this delivery was the one it
	// acted on. A receiver that deduplicates by event id sets it on the
	// first delivery of an id only; two processed deliveries of one id is
	// a violation, while duplicate deliveries are not.
	Processed bool
}

// Sample is one replication lag measurement.
type Sample struct {
	At     time.Duration
	Region string // the region whose lag was measured (optional)
	Ms     float64
}

// Final is what every region said after the heal and convergence.
type Final struct {
	Digests        map[string]string              // region id -> ledger digest after the heal and convergence
	ConvergedAfter time.Duration                  // from HealedAt until every digest was equal (-1: never)
	Orders         map[string]map[string]Order    // region id -> order id -> GET /v1/orders/{id} in that region (decoded)
	Consumers      map[string]map[string]Consumer // region id -> email -> GET /admin/api/consumers?email= (decoded)
	Acquirer       map[string]Books               // order id -> GET /simulator/acquirer/v1/payments?reference= (card orders)
	AcquirerUnread map[string]string              // order id -> why its books could not be read (not "none": the acquirer never answered)
	Verify         map[string]string              // region id -> "" if `kassa verify` was clean, else its first problem
}

// Order is an order as GET /v1/orders/{id} shows it.
type Order struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Method   string `json:"method"`
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
	Captured int64  `json:"captured"`
	Refunded int64  `json:"refunded"`
	Released int64  `json:"released"`
	// Captures and Refunds are the order's movements; they let the
	// checker find an acknowledged capture or refund by its id.
	Captures []Movement `json:"captures,omitempty"`
	Refunds  []Movement `json:"refunds,omitempty"`
}

// Movement is one capture or refund of an order, as the API shows it;
// an answer to a capture or refund carries the one it made as
// "operation".
type Movement struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Status string `json:"status"` // succeeded, pending or failed
}

// Consumer is a consumer's credit as GET /admin/api/consumers shows it.
type Consumer struct {
	Limit     int64 `json:"limit"`
	Exposure  int64 `json:"exposure"`
	Unsecured int64 `json:"unsecured"`
}

// Books is what the simulated acquirer booked for one reference.
type Books struct {
	Authorized int64 `json:"authorized"`
	Captured   int64 `json:"captured"`
	Refunded   int64 `json:"refunded"`
	Voided     int64 `json:"voided"`
}
