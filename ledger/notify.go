package ledger

// Changed returns a channel that is closed when the next commit stores at
// least one entry. Callers that want to react to new entries (the pushes to
// peers) take the channel, do their work, then wait on it: a commit that
// happens in between has already closed it, so no change is missed.
func (s *Store) Changed() <-chan struct{} {
	s.changedMu.Lock()
	defer s.changedMu.Unlock()
	return s.changed
}

func (s *Store) notifyChanged() {
	s.changedMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changedMu.Unlock()
}
