package sttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultMaxFileBytes is the file-transfer limit when none is configured:
// 1 MB as the original documentation gives it, taken as 1 MiB (1048576
// bytes), the value of the interop accounts file.
const DefaultMaxFileBytes = 1 << 20

// User is an account of the fake server.
type User struct {
	// ID is the login name, matched case-insensitively at login. Other
	// users see the account under exactly this id.
	ID string `json:"id"`
	// Password is compared exactly.
	Password string `json:"password"`
	// FullName is the display name (LoginInfo user_name, buddy-list name).
	FullName string `json:"full_name"`
	// Contacts are the ids in the user's buddy list at first login. Ids
	// that name no user are ignored.
	Contacts []string `json:"contacts"`
}

// Accounts is the content of an accounts file (CONTRACT.md §2).
type Accounts struct {
	Users []User
	// MaxFileBytes is the file-transfer limit (DefaultMaxFileBytes when
	// the file has no max_file_bytes).
	MaxFileBytes int64
}

// DemoUsers are the accounts of CONTRACT.md §2: alice, bob and carol, all
// with password "secret"; alice has bob and carol as contacts, bob has
// alice.
func DemoUsers() []User {
	return []User{
		{ID: "alice", Password: "secret", FullName: "Alice Example", Contacts: []string{"bob", "carol"}},
		{ID: "bob", Password: "secret", FullName: "Bob Example", Contacts: []string{"alice"}},
		{ID: "carol", Password: "secret", FullName: "Carol Example", Contacts: []string{}},
	}
}

// ErrBadUsers reports an unusable account list or accounts file.
var ErrBadUsers = errors.New("sttest: bad user list")

// maxUsersFile bounds the accounts file LoadUsersFile reads.
const maxUsersFile = 4 << 20

// LoadUsersFile reads an accounts file in the format of CONTRACT.md §2:
// {"users": [{"id", "password", "full_name", "contacts"}, …],
// "max_file_bytes": N}.
func LoadUsersFile(path string) (Accounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return Accounts{}, fmt.Errorf("sttest: users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return Accounts{}, fmt.Errorf("sttest: users file %s: %w", path, err)
	}
	if len(data) > maxUsersFile {
		return Accounts{}, fmt.Errorf("sttest: users file %s: larger than %d bytes: %w", path, maxUsersFile, ErrBadUsers)
	}
	var file struct {
		Users        []User `json:"users"`
		MaxFileBytes *int64 `json:"max_file_bytes"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return Accounts{}, fmt.Errorf("sttest: users file %s: %w: %v", path, ErrBadUsers, err)
	}
	if err := validateUsers(file.Users); err != nil {
		return Accounts{}, fmt.Errorf("sttest: users file %s: %w", path, err)
	}
	acc := Accounts{Users: file.Users, MaxFileBytes: DefaultMaxFileBytes}
	if file.MaxFileBytes != nil {
		if *file.MaxFileBytes < 0 {
			return Accounts{}, fmt.Errorf("sttest: users file %s: negative max_file_bytes: %w", path, ErrBadUsers)
		}
		acc.MaxFileBytes = *file.MaxFileBytes
	}
	return acc, nil
}

// validateUsers rejects empty and duplicate (case-insensitive) ids.
func validateUsers(users []User) error {
	seen := map[string]bool{}
	for i, u := range users {
		if strings.TrimSpace(u.ID) == "" {
			return fmt.Errorf("%w: user %d has no id", ErrBadUsers, i+1)
		}
		if len(u.ID) > 255 || len(u.FullName) > 255 {
			return fmt.Errorf("%w: user %d: id or name longer than 255 bytes", ErrBadUsers, i+1)
		}
		k := strings.ToLower(u.ID)
		if seen[k] {
			return fmt.Errorf("%w: duplicate id %q", ErrBadUsers, u.ID)
		}
		seen[k] = true
	}
	return nil
}
