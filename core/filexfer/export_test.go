package filexfer

// ChunkBuffers reports the bytes of chunk buffers lent by Next and not
// given back with Release, and the most that were lent at once.
func (m *Manager) ChunkBuffers() (lent, peak int64) {
	return m.bufs.lent.Load(), m.bufs.peak.Load()
}

// NextBudget is the most chunk data one Next call returns.
const NextBudget = nextBudget
