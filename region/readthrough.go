package region

import (
	"context"
	"errors"

	regionsync "kassa/sync"
)

// errNotAllAnswered is a read-through that found nothing but could not ask
// every peer: the object may exist in one of them.
var errNotAllAnswered = errors.New("region: read-through: not every peer answered, and none that did holds it")

// readThrough gives checkout the sync node's Lookup: a session or order a
// request names that this region does not hold is fetched from the peers.
type readThrough struct{ node *regionsync.Node }

func (rt readThrough) ReadThrough(ctx context.Context, subjects, refs []string) (bool, error) {
	res, err := rt.node.Lookup(ctx, subjects, refs)
	switch {
	case err != nil:
		return false, err
	case res == regionsync.LookupFound:
		return true, nil
	case res == regionsync.LookupAbsent:
		return false, nil
	}
	return false, errNotAllAnswered
}
