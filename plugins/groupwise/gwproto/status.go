package gwproto

import "strconv"

// Status is a user's presence (NM_STATUS_*). It travels as a decimal string
// in requests and responses and as a uint16 in event 103.
type Status uint16

// Status values.
const (
	StatusUnknown   Status = 0
	StatusOffline   Status = 1
	StatusAvailable Status = 2
	StatusBusy      Status = 3
	StatusAway      Status = 4
	StatusAwayIdle  Status = 5
	StatusInvalid   Status = 6
)

var statusNames = [...]string{"unknown", "offline", "available", "busy", "away", "away-idle", "invalid"}

// String returns a lower-case name such as "available", or "status(n)".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Text returns the decimal form used in NM_A_SZ_STATUS.
func (s Status) Text() string { return strconv.Itoa(int(s)) }

// ParseStatus parses an NM_A_SZ_STATUS value.
func ParseStatus(s string) (Status, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, ErrBadNumber
	}
	return Status(n), nil
}
