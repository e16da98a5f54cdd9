package gwproto

import (
	"fmt"
	"strconv"
)

// Result codes carried in NM_A_SZ_RESULT_CODE (spec §2.10), plus the codes
// libpurple uses internally (never on the wire).
const (
	CodeSuccess              uint32 = 0
	CodeAccessDenied         uint32 = 0xD106
	CodeNotSupported         uint32 = 0xD10A
	CodePasswordExpired      uint32 = 0xD10B
	CodePasswordInvalid      uint32 = 0xD10C
	CodeUserNotFound         uint32 = 0xD10D
	CodeUserDisabled         uint32 = 0xD110
	CodeDirectoryFailure     uint32 = 0xD111
	CodeHostNotFound         uint32 = 0xD119
	CodeAdminLocked          uint32 = 0xD11C
	CodeDuplicateParticipant uint32 = 0xD11F
	CodeServerBusy           uint32 = 0xD123
	CodeObjectNotFound       uint32 = 0xD124
	CodeDirectoryUpdate      uint32 = 0xD125
	CodeDuplicateFolder      uint32 = 0xD126
	CodeDuplicateContact     uint32 = 0xD127
	CodeUserNotAllowed       uint32 = 0xD128
	CodeTooManyContacts      uint32 = 0xD129
	CodeConferenceNotFound2  uint32 = 0xD12B
	CodeTooManyFolders       uint32 = 0xD12C
	CodeServerProtocol       uint32 = 0xD130
	CodeConversationInvite   uint32 = 0xD135
	CodeUserBlocked          uint32 = 0xD139
	CodeMasterArchiveMissing uint32 = 0xD13A
	CodePasswordExpired2     uint32 = 0xD142
	CodeCredentialsMissing   uint32 = 0xD146
	CodeAuthenticationFailed uint32 = 0xD149
	CodeEvalConnectionLimit  uint32 = 0xD14A

	// Client-internal codes.
	CodeBadParam                  uint32 = 0x2001
	CodeTCPWrite                  uint32 = 0x2002
	CodeTCPRead                   uint32 = 0x2003
	CodeProtocol                  uint32 = 0x2004
	CodeServerRedirect            uint32 = 0x2005
	CodeConferenceNotFound        uint32 = 0x2006
	CodeConferenceNotInstantiated uint32 = 0x2007
	CodeFolderExists              uint32 = 0x2008
)

type codeInfo struct{ name, text string }

var codeTable = map[uint32]codeInfo{
	CodeAccessDenied:              {"ACCESS_DENIED", "Access denied"},
	CodeNotSupported:              {"NOT_SUPPORTED", "Not supported"},
	CodePasswordExpired:           {"PASSWORD_EXPIRED", "Password has expired"},
	CodePasswordInvalid:           {"PASSWORD_INVALID", "Incorrect password"},
	CodeUserNotFound:              {"USER_NOT_FOUND", "User not found"},
	CodeUserDisabled:              {"USER_DISABLED", "Account has been disabled"},
	CodeDirectoryFailure:          {"DIRECTORY_FAILURE", "The server could not access the directory"},
	CodeHostNotFound:              {"HOST_NOT_FOUND", "Could not recognize the host of the username"},
	CodeAdminLocked:               {"ADMIN_LOCKED", "Your system administrator has disabled this operation"},
	CodeDuplicateParticipant:      {"DUPLICATE_PARTICIPANT", "Cannot add the same person twice to a conversation"},
	CodeServerBusy:                {"SERVER_BUSY", "The server is unavailable; try again later"},
	CodeObjectNotFound:            {"OBJECT_NOT_FOUND", "Incorrect username"},
	CodeDirectoryUpdate:           {"DIRECTORY_UPDATE", "Error while updating the directory"},
	CodeDuplicateFolder:           {"DUPLICATE_FOLDER", "Folder already exists"},
	CodeDuplicateContact:          {"DUPLICATE_CONTACT", "Cannot add a contact to the same folder twice"},
	CodeUserNotAllowed:            {"USER_NOT_ALLOWED", "Cannot add yourself"},
	CodeTooManyContacts:           {"TOO_MANY_CONTACTS", "Contact limit reached"},
	CodeConferenceNotFound2:       {"CONFERENCE_NOT_FOUND_2", "Conference not found"},
	CodeTooManyFolders:            {"TOO_MANY_FOLDERS", "Folder limit reached"},
	CodeServerProtocol:            {"SERVER_PROTOCOL", "Incompatible protocol version"},
	CodeConversationInvite:        {"CONVERSATION_INVITE", "The user is either offline or you are blocked"},
	CodeUserBlocked:               {"USER_BLOCKED", "The user has blocked you"},
	CodeMasterArchiveMissing:      {"MASTER_ARCHIVE_MISSING", "Master archive is misconfigured"},
	CodePasswordExpired2:          {"PASSWORD_EXPIRED_2", "Password has expired"},
	CodeCredentialsMissing:        {"CREDENTIALS_MISSING", "Incorrect username or password"},
	CodeAuthenticationFailed:      {"AUTHENTICATION_FAILED", "Incorrect username or password"},
	CodeEvalConnectionLimit:       {"EVAL_CONNECTION_LIMIT", "Evaluation version allows only ten users"},
	CodeBadParam:                  {"BAD_PARM", "Bad parameter"},
	CodeTCPWrite:                  {"TCP_WRITE", "Error writing to the network"},
	CodeTCPRead:                   {"TCP_READ", "Error reading from the network"},
	CodeProtocol:                  {"PROTOCOL", "Error communicating with server"},
	CodeServerRedirect:            {"SERVER_REDIRECT", "Server redirect"},
	CodeConferenceNotFound:        {"CONFERENCE_NOT_FOUND", "Conference not found"},
	CodeConferenceNotInstantiated: {"CONFERENCE_NOT_INSTANTIATED", "Conference not instantiated"},
	CodeFolderExists:              {"FOLDER_EXISTS", "Folder already exists"},
}

// ResultError is a non-zero result code from the server (or one of the
// client-internal codes). Compare with errors.As, or errors.Is against a
// *ResultError with the same Code.
type ResultError struct {
	Code uint32
}

// Name returns the NMERR_ name without prefix (e.g. "PASSWORD_INVALID"), or
// "0x…" for an unknown code.
func (e *ResultError) Name() string {
	if ci, ok := codeTable[e.Code]; ok {
		return ci.name
	}
	return fmt.Sprintf("0x%X", e.Code)
}

// Text returns libpurple's user-facing text for the code.
func (e *ResultError) Text() string {
	if ci, ok := codeTable[e.Code]; ok {
		return ci.text
	}
	return "Unknown error: 0x" + strconv.FormatUint(uint64(e.Code), 16)
}

func (e *ResultError) Error() string {
	return fmt.Sprintf("gwproto: result %d (%s): %s", e.Code, e.Name(), e.Text())
}

// Is makes errors.Is(err, &ResultError{Code: c}) match on the code.
func (e *ResultError) Is(target error) bool {
	t, ok := target.(*ResultError)
	return ok && t.Code == e.Code
}

// IsWrongPassword reports whether the code is one libpurple treats as an
// authentication failure (53516, 53574, 53577): wrong password or unknown
// user name. A client should not retry automatically.
func (e *ResultError) IsWrongPassword() bool {
	switch e.Code {
	case CodePasswordInvalid, CodeCredentialsMissing, CodeAuthenticationFailed:
		return true
	}
	return false
}

// IsUserNotFound reports whether the code says the looked-up user does not
// exist.
func (e *ResultError) IsUserNotFound() bool {
	return e.Code == CodeUserNotFound || e.Code == CodeObjectNotFound
}

// ParseResultCode parses an NM_A_SZ_RESULT_CODE value (decimal ASCII,
// surrounding blanks allowed).
func ParseResultCode(s string) (uint32, error) {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	n, err := strconv.ParseUint(s[i:j], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("gwproto: result code %q: %w", s, ErrBadResultCode)
	}
	return uint32(n), nil
}
