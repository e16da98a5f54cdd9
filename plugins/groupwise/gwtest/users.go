package gwtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// User is an account of the fake server.
type User struct {
	// ID is the login name. Other users see it as the display id
	// (NM_A_SZ_AUTH_ATTRIBUTE), so libpurple names the buddy after it.
	ID string `json:"id"`
	// Password is compared exactly.
	Password string `json:"password"`
	// FullName is sent as "Full Name" and as the contact alias.
	FullName string `json:"full_name"`
	// DN is the user's distinguished name; empty means DefaultDN(ID).
	DN string `json:"dn,omitempty"`
	// Contacts are the ids of the contacts in the root folder at login.
	// Ids that name no user are ignored.
	Contacts []string `json:"contacts"`
	// Folders are sub-folders of the root folder with their contacts.
	Folders []Folder `json:"folders,omitempty"`
	// Echo makes the user a scripted peer: online (available) without a
	// connection, it answers every message it receives with the same
	// message body. A real login as this user works as usual and ends
	// the echoing for as long as that session lasts.
	Echo bool `json:"echo,omitempty"`
}

// Folder is a contact-list folder below the root folder.
type Folder struct {
	Name     string   `json:"name"`
	Contacts []string `json:"contacts"`
}

// DefaultDN is the DN given to a user without one: cn=<id>,ou=users,o=parley.
func DefaultDN(id string) string { return "cn=" + id + ",ou=users,o=parley" }

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
var ErrBadUsers = errors.New("gwtest: bad user list")

// maxUsersFile bounds the accounts file LoadUsersFile reads.
const maxUsersFile = 4 << 20

// LoadUsersFile reads an accounts file in the format of CONTRACT.md §2:
// {"users": [{"id", "password", "full_name", "contacts"}, …]}. Other
// top-level members (max_file_bytes) are ignored.
func LoadUsersFile(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gwtest: users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return nil, fmt.Errorf("gwtest: users file %s: %w", path, err)
	}
	if len(data) > maxUsersFile {
		return nil, fmt.Errorf("gwtest: users file %s: larger than %d bytes: %w", path, maxUsersFile, ErrBadUsers)
	}
	var file struct {
		Users []User `json:"users"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("gwtest: users file %s: %w: %v", path, ErrBadUsers, err)
	}
	if err := validateUsers(file.Users); err != nil {
		return nil, fmt.Errorf("gwtest: users file %s: %w", path, err)
	}
	return file.Users, nil
}

// validateUsers checks that ids and DNs are usable and unique.
func validateUsers(users []User) error {
	ids := map[string]bool{}
	dns := map[string]bool{}
	for _, u := range users {
		if u.ID == "" || strings.ContainsAny(u.ID, ",=\x00\r\n") || len(u.ID) > 256 {
			return fmt.Errorf("user id %q: %w", u.ID, ErrBadUsers)
		}
		key := strings.ToLower(u.ID)
		if ids[key] {
			return fmt.Errorf("user id %q twice: %w", u.ID, ErrBadUsers)
		}
		ids[key] = true
		dn := u.DN
		if dn == "" {
			dn = DefaultDN(u.ID)
		}
		if !strings.Contains(dn, "=") || strings.ContainsAny(dn, "\x00\r\n") {
			return fmt.Errorf("user %q: DN %q: %w", u.ID, dn, ErrBadUsers)
		}
		if dns[strings.ToLower(dn)] {
			return fmt.Errorf("DN %q twice: %w", dn, ErrBadUsers)
		}
		dns[strings.ToLower(dn)] = true
	}
	return nil
}
