package cards

// Decline codes an acquirer answers with, besides the Check codes
// (CodeInvalidNumber, CodeInvalidExpiry, CodeExpiredCard, CodeInvalidCVC)
// that the Simulator uses for a card that fails Check.
const (
	DeclineCardDeclined      = "card_declined"
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineExpiredCard       = "expired_card"
	DeclineIncorrectCVC      = "incorrect_cvc"
	DeclineProcessingError   = "processing_error"
)

// TestCard is a card number with a documented behaviour at the Simulator.
type TestCard struct {
	Number      string // grouped as printed on the card
	Brand       string
	Approved    bool
	DeclineCode string // set when not Approved
	// Stalls: the Simulator approves and charges, then holds the answer back
	// until Simulator.Stall passes or the caller gives up. A lookup by
	// idempotency key answers at once.
	Stalls bool
	// RefusesCaptures: the Simulator approves the authorization and refuses
	// every capture of it with RefusalCaptureRefused.
	RefusesCaptures bool
	// RefusesRefunds: the Simulator approves and captures, and refuses every
	// refund with RefusalRefundRefused.
	RefusesRefunds bool
	Description    string
}

// TestCards returns the Simulator's test cards, the same table as the
// package documentation and docs/cards.md. Every number passes the Luhn
// check. Each call returns a new slice.
func TestCards() []TestCard {
	return []TestCard{
		{Number: "4242 4242 4242 4242", Brand: BrandVisa, Approved: true, Description: "approved"},
		{Number: "5555 5555 5555 4444", Brand: BrandMastercard, Approved: true, Description: "approved"},
		{Number: "3782 822463 10005", Brand: BrandAmex, Approved: true, Description: "approved (four-digit CVC)"},
		{Number: "4000 0000 0000 0002", Brand: BrandVisa, DeclineCode: DeclineCardDeclined, Description: "generic decline"},
		{Number: "4000 0000 0000 9995", Brand: BrandVisa, DeclineCode: DeclineInsufficientFunds, Description: "insufficient funds"},
		{Number: "4000 0000 0000 0069", Brand: BrandVisa, DeclineCode: DeclineExpiredCard, Description: "expired at the acquirer, whatever the expiry sent"},
		{Number: "4000 0000 0000 0127", Brand: BrandVisa, DeclineCode: DeclineIncorrectCVC, Description: "incorrect CVC, whatever the CVC sent"},
		{Number: "4000 0000 0000 0119", Brand: BrandVisa, DeclineCode: DeclineProcessingError, Description: "processing error at the acquirer, every time; the shopper may try again"},
		{Number: "4000 0000 0000 3220", Brand: BrandVisa, Approved: true, Stalls: true, Description: "approved and charged, answer held back: outcome unknown to the caller until it looks the payment up"},
		{Number: "4000 0000 0000 0341", Brand: BrandVisa, Approved: true, RefusesCaptures: true, Description: "approved; every capture refused with capture_refused (voids work)"},
		{Number: "4000 0000 0000 5506", Brand: BrandVisa, Approved: true, RefusesRefunds: true, Description: "approved and capturable; every refund refused with refund_refused"},
	}
}
