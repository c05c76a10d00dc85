package region

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// A region that has not finished recovering its own entries grants no
// rights: the grant would be an entry of its own, possibly under a
// sequence number a peer already holds. The refusal is temporary, so the
// asking region's sync server answers it as "try later".
func TestNoRightsGrantedWhileRecovering(t *testing.T) {
	rr := rightsRouter{recovered: &atomic.Bool{}}
	_, err := rr.GrantRights(context.Background(), "ord_x", "order:ord_x:capture:", "r2", 100)
	var tmp interface{ Temporary() bool }
	if !errors.Is(err, errRecovering) || !errors.As(err, &tmp) || !tmp.Temporary() {
		t.Fatalf("while recovering: got %v, want a temporary refusal", err)
	}
}
