package devicev1

// Hello.capabilities a device may announce.
const (
	// CapabilityLoginSnapshotFrame: the device takes a Login's contact
	// snapshot in a compressible frame of its own, after SessionOpened
	// (see SessionOpened.snapshot_follows).
	CapabilityLoginSnapshotFrame = "login-snapshot-frame"
)
