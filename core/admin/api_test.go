package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
	"github.com/parleygw/parley/core/configdb"
)

// rawCall sends a request with the given Authorization header ("" for
// none) and returns the status and decoded JSON body.
func rawCall(t *testing.T, srv *admintest.Server, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, v
}

func errCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

const bearer = "Bearer " + admintest.Token

func TestEveryRequestNeedsTheToken(t *testing.T) {
	srv := admintest.NewServer(t)
	requests := []struct{ method, path string }{
		{"GET", "/v1/health"}, {"GET", "/v1/users"}, {"POST", "/v1/users"}, {"GET", "/v1/users/alice"},
		{"DELETE", "/v1/users/alice"}, {"POST", "/v1/users/alice/disable"}, {"POST", "/v1/users/alice/enable"},
		{"PUT", "/v1/users/alice/group"}, {"GET", "/v1/users/alice/policy"}, {"DELETE", "/v1/users/alice/sessions"},
		{"GET", "/v1/groups"}, {"POST", "/v1/groups"}, {"DELETE", "/v1/groups/staff"},
		{"GET", "/v1/groups/staff/policy"}, {"PATCH", "/v1/groups/staff/policy"}, {"DELETE", "/v1/groups/staff/policy"},
		{"GET", "/v1/policies"}, {"GET", "/v1/audit"}, {"GET", "/v1/sessions"}, {"GET", "/v1/plugins"},
		{"POST", "/v1/plugins/reload"}, {"GET", "/no/such/path"},
	}
	auths := map[string]string{
		"none":         "",
		"wrong token":  "Bearer wrong-token-0123456789abcdef",
		"token prefix": "Bearer " + admintest.Token[:len(admintest.Token)-1],
		"token longer": bearer + "x",
		"not bearer":   "Basic " + admintest.Token,
		"bare token":   admintest.Token,
	}
	for name, auth := range auths {
		for _, r := range requests {
			status, v := rawCall(t, srv, r.method, r.path, auth, "")
			if status != http.StatusUnauthorized || errCode(v) != admin.CodeUnauthorized {
				t.Errorf("%s: %s %s: %d %v, want 401 unauthorized", name, r.method, r.path, status, v)
			}
		}
	}
	if got := srv.Plugins.Reloads(); got != 0 {
		t.Errorf("an unauthenticated reload went through: %d reloads", got)
	}
	if users, _ := srv.Store.ListUsers(context.Background()); len(users) != 0 {
		t.Errorf("an unauthenticated request changed the database: %v", users)
	}
	if status, _ := rawCall(t, srv, "GET", "/v1/health", bearer, ""); status != http.StatusOK {
		t.Errorf("with the token: %d", status)
	}
}

func TestUnknownRouteAndWrongMethodAreJSONErrors(t *testing.T) {
	srv := admintest.NewServer(t)
	status, v := rawCall(t, srv, "GET", "/v1/nothing", bearer, "")
	if status != http.StatusNotFound || errCode(v) != admin.CodeNotFound {
		t.Errorf("unknown path: %d %v", status, v)
	}
	status, v = rawCall(t, srv, "DELETE", "/v1/users", bearer, "")
	if status != http.StatusMethodNotAllowed || errCode(v) != admin.CodeMethodNotAllowed {
		t.Errorf("DELETE /v1/users: %d %v", status, v)
	}
	if msg := v["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "GET, POST") {
		t.Errorf("405 message %q does not say what is allowed", msg)
	}
}

func TestUsers(t *testing.T) {
	srv := admintest.NewServer(t, admintest.WithBackends("groupwise", "sametime"))
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}

	alice, err := c.AddUser(ctx, admin.NewUser{ID: "Alice", Backend: "groupwise", BackendLogin: "asmith",
		Group: "staff", DisplayName: "Alice Smith"})
	if err != nil {
		t.Fatal(err)
	}
	if alice.ID != "alice" || !alice.Enabled || alice.BackendLogin != "asmith" || alice.Group != "staff" ||
		alice.DisplayName != "Alice Smith" || alice.CreatedAt.IsZero() {
		t.Errorf("added %+v", alice)
	}
	off := false
	bob, err := c.AddUser(ctx, admin.NewUser{ID: "bob", Backend: "sametime", Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}
	if bob.Enabled || bob.BackendLogin != "bob" || bob.Group != "" {
		t.Errorf("added %+v", bob)
	}

	got, err := c.User(ctx, "ALICE")
	if err != nil || got != alice {
		t.Errorf("User(ALICE) = %+v, %v; want %+v", got, err, alice)
	}
	list, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 2 || list.Users[0].ID != "alice" || list.Users[1].ID != "bob" {
		t.Errorf("Users = %+v", list.Users)
	}

	for _, tc := range []struct {
		name string
		u    admin.NewUser
		code string
	}{
		{"taken", admin.NewUser{ID: "alice", Backend: "groupwise"}, admin.CodeAlreadyExists},
		{"unknown group", admin.NewUser{ID: "carol", Backend: "groupwise", Group: "nobody"}, admin.CodeNotFound},
		{"unknown backend", admin.NewUser{ID: "carol", Backend: "lotus"}, admin.CodeInvalidArgument},
		{"empty id", admin.NewUser{ID: "", Backend: "groupwise"}, admin.CodeInvalidArgument},
		{"control character", admin.NewUser{ID: "ca\x01rol", Backend: "groupwise"}, admin.CodeInvalidArgument},
	} {
		_, err := c.AddUser(ctx, tc.u)
		if admin.ErrorCode(err) != tc.code {
			t.Errorf("%s: AddUser error %v, want code %s", tc.name, err, tc.code)
		}
	}
	if _, err := c.User(ctx, "nobody"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("User(nobody): %v", err)
	}

	ch, err := c.EnableUser(ctx, "bob")
	if err != nil || ch.User == nil || !ch.User.Enabled {
		t.Errorf("EnableUser(bob) = %+v, %v", ch, err)
	}
	if _, err := c.EnableUser(ctx, "nobody"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("EnableUser(nobody): %v", err)
	}
}

func TestUserIDsNeedNoQuoting(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	for _, id := range []string{"dept/alice", "bob smith", "o'neil?x=1#y", "zoë@example.com", "100%"} {
		if _, err := c.AddUser(ctx, admin.NewUser{ID: id, Backend: "groupwise"}); err != nil {
			t.Fatalf("AddUser(%q): %v", id, err)
		}
		u, err := c.User(ctx, id)
		if err != nil || u.ID != id {
			t.Errorf("User(%q) = %+v, %v", id, u, err)
		}
		if ch, err := c.DeleteUser(ctx, id); err != nil || ch.Deleted != id {
			t.Errorf("DeleteUser(%q) = %+v, %v", id, ch, err)
		}
	}
}

func TestDisableEndsTheUsersLiveSessions(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	for _, id := range []string{"alice", "bob"} {
		if _, err := c.AddUser(ctx, admin.NewUser{ID: id, Backend: "groupwise"}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Sessions.Add(admin.SessionInfo{ID: "s1", User: "alice", Backend: "groupwise"},
		admin.SessionInfo{ID: "s2", User: "bob", Backend: "groupwise"})

	ch, err := c.DisableUser(ctx, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Kicked != 1 || ch.User == nil || ch.User.Enabled {
		t.Errorf("DisableUser = %+v", ch)
	}
	kicks := srv.Sessions.Kicks()
	if len(kicks) != 1 || !strings.EqualFold(kicks[0].User, "alice") || kicks[0].Reason != admin.ReasonUserDisable {
		t.Errorf("kicks = %+v", kicks)
	}
	left := srv.Sessions.List()
	if len(left) != 1 || left[0].User != "bob" {
		t.Errorf("sessions left = %+v, want bob's only", left)
	}
	// The next login is refused before any IM server is contacted.
	if _, err := srv.Store.Authorize(ctx, "alice"); !errors.Is(err, configdb.ErrPermissionDenied) {
		t.Errorf("Authorize(alice) after disable: %v", err)
	}
	// Disabling an unknown user kicks nobody.
	if _, err := c.DisableUser(ctx, "carol"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("DisableUser(carol): %v", err)
	}
	if n := len(srv.Sessions.Kicks()); n != 1 {
		t.Errorf("%d kicks after a failed disable", n)
	}
}

func TestDeleteEndsTheUsersLiveSessions(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "groupwise"}); err != nil {
		t.Fatal(err)
	}
	srv.Sessions.Add(admin.SessionInfo{ID: "s1", User: "alice", Backend: "groupwise"})
	ch, err := c.DeleteUser(ctx, "alice")
	if err != nil || ch.Deleted != "alice" || ch.Kicked != 1 {
		t.Errorf("DeleteUser = %+v, %v", ch, err)
	}
	if k := srv.Sessions.Kicks(); len(k) != 1 || k[0].Reason != admin.ReasonUserDelete {
		t.Errorf("kicks = %+v", k)
	}
	if _, err := c.User(ctx, "alice"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("User after delete: %v", err)
	}
	if _, err := c.DeleteUser(ctx, "alice"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("second DeleteUser: %v", err)
	}
}

func TestSetUserGroup(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "groupwise"}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.SetUserGroup(ctx, "alice", "Staff")
	if err != nil || ch.User == nil || ch.User.Group != "staff" {
		t.Errorf("SetUserGroup = %+v, %v", ch, err)
	}
	_, err = c.SetUserGroup(ctx, "alice", "nobody")
	if admin.ErrorCode(err) != admin.CodeNotFound || !strings.Contains(err.Error(), `group "nobody"`) {
		t.Errorf("unknown group: %v", err)
	}
	_, err = c.SetUserGroup(ctx, "carol", "staff")
	if admin.ErrorCode(err) != admin.CodeNotFound || !strings.Contains(err.Error(), `user "carol"`) {
		t.Errorf("unknown user: %v", err)
	}
	ch, err = c.SetUserGroup(ctx, "alice", "")
	if err != nil || ch.User == nil || ch.User.Group != "" {
		t.Errorf("SetUserGroup(\"\") = %+v, %v", ch, err)
	}
}

func TestGroups(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	g, err := c.AddGroup(ctx, admin.NewGroup{Name: "Staff", Description: "everyone"})
	if err != nil || g.Name != "staff" || g.Description != "everyone" {
		t.Fatalf("AddGroup = %+v, %v", g, err)
	}
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "interns"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); admin.ErrorCode(err) != admin.CodeAlreadyExists {
		t.Errorf("duplicate group: %v", err)
	}
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "no spaces"}); admin.ErrorCode(err) != admin.CodeInvalidArgument {
		t.Errorf("bad name: %v", err)
	}
	if _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "groupwise", Group: "staff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetPolicy(ctx, "staff", admin.PolicyChange{}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []admin.Group{{Name: "interns"}, {Name: "staff", Description: "everyone", Users: 1, HasPolicy: true}}
	if len(list.Groups) != 2 {
		t.Fatalf("Groups = %+v", list.Groups)
	}
	for i := range want {
		got := list.Groups[i]
		got.CreatedAt = want[i].CreatedAt
		if got != want[i] {
			t.Errorf("group %d = %+v, want %+v", i, got, want[i])
		}
	}
	if _, err := c.DeleteGroup(ctx, "staff"); admin.ErrorCode(err) != admin.CodeInUse {
		t.Errorf("deleting a group with users: %v", err)
	}
	if d, err := c.DeleteGroup(ctx, "interns"); err != nil || d.Deleted != "interns" {
		t.Errorf("DeleteGroup = %+v, %v", d, err)
	}
	if _, err := c.DeleteGroup(ctx, "interns"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("second DeleteGroup: %v", err)
	}
}

func TestPolicies(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []admin.NewUser{{ID: "alice", Backend: "groupwise", Group: "staff"}, {ID: "bob", Backend: "groupwise"}} {
		if _, err := c.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	def := admintest.DefaultPolicy

	// A group without a policy of its own shows the default.
	p, err := c.GroupPolicy(ctx, "staff")
	if err != nil || p.Source != admin.SourceDefault || p.MaxFileBytes != def.MaxFileBytes || p.Group != "staff" {
		t.Errorf("GroupPolicy before set = %+v, %v", p, err)
	}

	// Setting one field keeps the others from the default.
	size := int64(512 << 10)
	p, err = c.SetPolicy(ctx, "staff", admin.PolicyChange{MaxFileBytes: &size})
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != admin.SourceGroup || p.MaxFileBytes != size || !p.FileTransfer || !p.OptimizeAllowed ||
		!slices.Equal(p.BlockedExtensions, def.BlockedExtensions) || p.UpdatedAt == nil {
		t.Errorf("after setting the size: %+v", p)
	}
	// Then blocking everything and turning optimisation off keeps the size.
	off := false
	p, err = c.SetPolicy(ctx, "staff", admin.PolicyChange{BlockedExtensions: admin.Extensions{"*"}, OptimizeAllowed: &off})
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxFileBytes != size || p.OptimizeAllowed || !slices.Equal(p.BlockedExtensions, []string{"*"}) {
		t.Errorf("after blocking everything: %+v", p)
	}
	// An empty list unblocks everything.
	p, err = c.SetPolicy(ctx, "staff", admin.PolicyChange{BlockedExtensions: admin.Extensions{}})
	if err != nil || len(p.BlockedExtensions) != 0 {
		t.Errorf("after unblocking: %+v, %v", p, err)
	}

	// Alice gets her group's policy, Bob (no group) the default.
	up, err := c.UserPolicy(ctx, "alice")
	if err != nil || up.Policy.Source != admin.SourceGroup || up.Policy.Group != "staff" || up.Policy.MaxFileBytes != size {
		t.Errorf("UserPolicy(alice) = %+v, %v", up, err)
	}
	up, err = c.UserPolicy(ctx, "bob")
	if err != nil || up.Policy.Source != admin.SourceDefault || up.Policy.MaxFileBytes != def.MaxFileBytes {
		t.Errorf("UserPolicy(bob) = %+v, %v", up, err)
	}
	if _, err := c.UserPolicy(ctx, "carol"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("UserPolicy(carol): %v", err)
	}

	list, err := c.Policies(ctx)
	if err != nil || len(list.Policies) != 1 || list.Policies[0].Group != "staff" || list.Default.MaxFileBytes != def.MaxFileBytes {
		t.Errorf("Policies = %+v, %v", list, err)
	}

	bad := int64(-1)
	if _, err := c.SetPolicy(ctx, "staff", admin.PolicyChange{MaxFileBytes: &bad}); admin.ErrorCode(err) != admin.CodeInvalidArgument {
		t.Errorf("negative size: %v", err)
	}
	if _, err := c.SetPolicy(ctx, "staff", admin.PolicyChange{BlockedExtensions: admin.Extensions{"e x e"}}); admin.ErrorCode(err) != admin.CodeInvalidArgument {
		t.Errorf("bad extension: %v", err)
	}
	if _, err := c.SetPolicy(ctx, "nobody", admin.PolicyChange{}); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("unknown group: %v", err)
	}

	p, err = c.DeletePolicy(ctx, "staff")
	if err != nil || p.Source != admin.SourceDefault {
		t.Errorf("DeletePolicy = %+v, %v", p, err)
	}
	if _, err := c.DeletePolicy(ctx, "staff"); admin.ErrorCode(err) != admin.CodeNotFound {
		t.Errorf("second DeletePolicy: %v", err)
	}
	if up, _ := c.UserPolicy(ctx, "alice"); up.Policy.Source != admin.SourceDefault {
		t.Errorf("alice after the delete: %+v", up)
	}
}

func TestPolicyAcceptsExtensionsAsOneString(t *testing.T) {
	srv := admintest.NewServer(t)
	if _, err := srv.Client(t).AddGroup(context.Background(), admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}
	// In order: each step starts from the previous one's policy.
	for _, step := range []struct {
		body string
		want []any
	}{
		{`{"blocked_extensions":"*"}`, []any{"*"}},
		{`{"blocked_extensions":null}`, []any{"*"}}, // null changes nothing
		{`{"blocked_extensions":"EXE, .bat,"}`, []any{"bat", "exe"}},
		{`{"file_transfer":false,"max_file_bytes":0}`, []any{"bat", "exe"}},
		{`{"blocked_extensions":["zip","*"]}`, []any{"*"}},
		{`{"blocked_extensions":""}`, []any{}},
	} {
		body, want := step.body, step.want
		status, v := rawCall(t, srv, "PATCH", "/v1/groups/staff/policy", bearer, body)
		if status != http.StatusOK {
			t.Errorf("%s: %d %v", body, status, v)
			continue
		}
		got, ok := v["blocked_extensions"].([]any)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("%s: blocked %v, want %v", body, got, want)
		}
	}
}

func TestAuditRecordsEveryChange(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); return err },
		func() error { _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "groupwise"}); return err },
		func() error { _, err := c.SetUserGroup(ctx, "alice", "staff"); return err },
		func() error { _, err := c.DisableUser(ctx, "alice"); return err },
		func() error { _, err := c.EnableUser(ctx, "alice"); return err },
		func() error { _, err := c.SetPolicy(ctx, "staff", admin.PolicyChange{}); return err },
		func() error { _, err := c.DeleteUser(ctx, "alice"); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// A refused change leaves no entry.
	if _, err := c.DeleteGroup(ctx, "nobody"); err == nil {
		t.Fatal("deleting an unknown group worked")
	}
	list, err := c.Audit(ctx, admin.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range list.Entries {
		actions = append(actions, e.Action+" "+e.Target)
		if e.Actor != "admin-api" {
			t.Errorf("entry %d actor %q", e.ID, e.Actor)
		}
	}
	want := []string{"user.delete alice", "policy.set staff", "user.enable alice", "user.disable alice",
		"user.set_group alice", "user.add alice", "group.add staff"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit (newest first) = %q\nwant %q", actions, want)
	}

	page, err := c.Audit(ctx, admin.AuditQuery{Limit: 2})
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Action != "user.delete" {
		t.Fatalf("limit 2: %+v, %v", page, err)
	}
	next, err := c.Audit(ctx, admin.AuditQuery{Limit: 2, BeforeID: page.Entries[1].ID})
	if err != nil || len(next.Entries) != 2 || next.Entries[0].Action != "user.enable" {
		t.Errorf("next page: %+v, %v", next, err)
	}
	staff, err := c.Audit(ctx, admin.AuditQuery{Target: "staff"})
	if err != nil || len(staff.Entries) != 2 {
		t.Errorf("target staff: %+v, %v", staff, err)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=-1", "before=abc"} {
		status, v := rawCall(t, srv, "GET", "/v1/audit?"+q, bearer, "")
		if status != http.StatusBadRequest || errCode(v) != admin.CodeBadRequest {
			t.Errorf("%s: %d %v", q, status, v)
		}
	}
}

func TestSessionsListAndKick(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	srv.Sessions.Add(
		admin.SessionInfo{ID: "s2", User: "bob", Backend: "sametime", Login: "bob", DevicesAttached: 0, DevicesTotal: 1, PendingEvents: 7},
		admin.SessionInfo{ID: "s1", User: "alice", Backend: "groupwise", Login: "asmith", DevicesAttached: 1, DevicesTotal: 2, PendingEvents: 3},
	)
	list, err := c.Sessions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 2 || list.Sessions[0].User != "alice" || list.Sessions[0].PendingEvents != 3 ||
		list.Sessions[0].DevicesTotal != 2 || list.Sessions[1].User != "bob" {
		t.Errorf("Sessions = %+v", list.Sessions)
	}
	one, err := c.Sessions(ctx, "BOB")
	if err != nil || len(one.Sessions) != 1 || one.Sessions[0].ID != "s2" {
		t.Errorf("Sessions(BOB) = %+v, %v", one, err)
	}
	k, err := c.KickUser(ctx, "alice")
	if err != nil || k.Kicked != 1 || k.User != "alice" {
		t.Errorf("KickUser = %+v, %v", k, err)
	}
	if kicks := srv.Sessions.Kicks(); len(kicks) != 1 || kicks[0].Reason != admin.ReasonKicked {
		t.Errorf("kicks = %+v", kicks)
	}
	k, err = c.KickUser(ctx, "alice")
	if err != nil || k.Kicked != 0 {
		t.Errorf("second KickUser = %+v, %v", k, err)
	}
}

func TestPlugins(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	srv.Plugins.Set(
		admin.PluginStatus{Backend: "sametime", Name: "sametime", Version: "1.0.0", State: "failed", LastError: "checksum mismatch"},
		admin.PluginStatus{Backend: "groupwise", Name: "groupwise", Version: "1.2.0", State: "up", PID: 100, Restarts: 2},
	)
	list, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Plugins) != 2 || list.Plugins[0].Backend != "groupwise" || list.Plugins[0].Restarts != 2 ||
		list.Plugins[1].LastError != "checksum mismatch" {
		t.Errorf("Plugins = %+v", list.Plugins)
	}
	list, err = c.ReloadPlugins(ctx)
	if err != nil || srv.Plugins.Reloads() != 1 || list.Plugins[1].State != "up" {
		t.Errorf("ReloadPlugins = %+v, %v (reloads %d)", list, err, srv.Plugins.Reloads())
	}
	srv.Plugins.FailReload(errors.New("plugin dir /usr/lib/parley/plugins: permission denied"))
	_, err = c.ReloadPlugins(ctx)
	if admin.ErrorCode(err) != admin.CodeReloadFailed || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("failed reload: %v", err)
	}
}

func TestWithoutPluginHost(t *testing.T) {
	srv := admintest.NewServer(t, admintest.WithoutPlugins())
	c := srv.Client(t)
	list, err := c.Plugins(context.Background())
	if err != nil || list.Plugins == nil || len(list.Plugins) != 0 {
		t.Errorf("Plugins = %+v, %v; want an empty list", list, err)
	}
	if _, err := c.ReloadPlugins(context.Background()); admin.ErrorCode(err) != admin.CodeUnavailable {
		t.Errorf("ReloadPlugins: %v", err)
	}
}

func TestHealth(t *testing.T) {
	srv := admintest.NewServer(t)
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}
	off := false
	for _, u := range []admin.NewUser{{ID: "alice", Backend: "gw"}, {ID: "bob", Backend: "gw", Enabled: &off}} {
		if _, err := c.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	srv.Sessions.Add(admin.SessionInfo{ID: "s1", User: "alice", DevicesAttached: 2, DevicesTotal: 2})
	srv.Plugins.Set(admin.PluginStatus{Backend: "gw", State: "up"})
	h, err := c.Health(ctx)
	want := admin.Health{Status: "ok", Users: 2, UsersEnabled: 1, Groups: 1, Sessions: 1, DevicesAttached: 2, Plugins: 1, PluginsUp: 1}
	if err != nil || h != want {
		t.Errorf("Health = %+v, %v; want %+v", h, err, want)
	}
	srv.Plugins.Set(admin.PluginStatus{Backend: "gw", State: "down"})
	if h, err := c.Health(ctx); err != nil || h.Status != "degraded" || h.PluginsUp != 0 {
		t.Errorf("Health with a plugin down = %+v, %v", h, err)
	}
	srv.Store.Close()
	if _, err := c.Health(ctx); admin.ErrorCode(err) != admin.CodeUnavailable {
		t.Errorf("Health with the database closed: %v", err)
	}
}

func TestMalformedBodies(t *testing.T) {
	srv := admintest.NewServer(t)
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{"", admin.CodeBadRequest, 400},
		{"{", admin.CodeBadRequest, 400},
		{`{"id":"a","backend":"gw","admin":true}`, admin.CodeBadRequest, 400},
		{`{"id":"a","backend":"gw"} {}`, admin.CodeBadRequest, 400},
		{`{"id":1,"backend":"gw"}`, admin.CodeBadRequest, 400},
		{`["a"]`, admin.CodeBadRequest, 400},
		{`{"id":"` + strings.Repeat("a", 70<<10) + `","backend":"gw"}`, admin.CodeTooLarge, 413},
		{`{"id":"` + strings.Repeat("a", 300) + `","backend":"gw"}`, admin.CodeInvalidArgument, 400},
	} {
		status, v := rawCall(t, srv, "POST", "/v1/users", bearer, tc.body)
		if status != tc.status || errCode(v) != tc.code {
			t.Errorf("body %.40q: %d %v, want %d %s", tc.body, status, v, tc.status, tc.code)
		}
	}
	if users, _ := srv.Store.ListUsers(context.Background()); len(users) != 0 {
		t.Errorf("malformed bodies added users: %v", users)
	}
}

func TestLogsNeverShowTheToken(t *testing.T) {
	var buf bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})
	srv := admintest.NewServer(t, admintest.WithLogger(logger))
	c := srv.Client(t)
	ctx := context.Background()
	if _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "gw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	rawCall(t, srv, "GET", "/v1/users", "Bearer guessed-token-0123456789", "")
	if !strings.Contains(buf.String(), "user disabled") {
		t.Errorf("no log line for the change:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), admintest.Token) || strings.Contains(buf.String(), "guessed-token") {
		t.Errorf("a token is in the log:\n%s", buf.String())
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	srv := admintest.NewServer(t)
	for name, o := range map[string]admin.Options{
		"no store":    {Token: admintest.Token},
		"no token":    {Store: srv.Store},
		"short token": {Store: srv.Store, Token: "short"},
	} {
		if _, err := admin.New(o); !errors.Is(err, admin.ErrBadOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
