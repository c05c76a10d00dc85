package cards

import (
	"context"
	"errors"
	"time"
)

// Operation is a capture, refund or void of an authorized payment.
type Operation struct {
	IdempotencyKey string
	Payment        string
	Amount         int64
	Currency       string
	Reference      string
}

// OperationResult is the acquirer's answer to an operation.
type OperationResult struct {
	ID          string
	Payment     string
	Type        string
	Succeeded   bool
	RefusalCode string
	Amount      int64
	Currency    string
	Created     time.Time
}

var errContract = errors.New("cards: not yet")

func (c *Client) Capture(ctx context.Context, op Operation) (OperationResult, error) {
	return OperationResult{}, errContract
}
func (c *Client) Refund(ctx context.Context, op Operation) (OperationResult, error) {
	return OperationResult{}, errContract
}
func (c *Client) Void(ctx context.Context, op Operation) (OperationResult, error) {
	return OperationResult{}, errContract
}
