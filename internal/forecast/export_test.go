package forecast

// SessionsTaken reports whether a probe measured on ss (for tests).
func SessionsTaken(ss *Sessions) bool {
	if ss == nil {
		return false
	}
	<-ss.done
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.used
}
