package client

import "time"

// SetClock makes h read the time from now, so that a test can let
// SuspectFor pass without waiting for it.
func SetClock(h *Health, now func() time.Time) { h.now = now }
