package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
)

// FuzzRequestBodies sends arbitrary bodies to every endpoint that reads one
// and checks that the answer is always the API's JSON, never a 500.
func FuzzRequestBodies(f *testing.F) {
	srv := admintest.NewServer(f)
	ctx := context.Background()
	c := srv.Client(f)
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		f.Fatal(err)
	}
	if _, err := c.AddUser(ctx, admin.NewUser{ID: "alice", Backend: "groupwise"}); err != nil {
		f.Fatal(err)
	}
	targets := []struct{ method, path string }{
		{"POST", "/v1/users"},
		{"POST", "/v1/groups"},
		{"PUT", "/v1/users/alice/group"},
		{"PATCH", "/v1/groups/staff/policy"},
	}
	for i, seed := range []string{
		`{"id":"bob","backend":"groupwise","backend_login":"bsmith","group":"staff","display_name":"Bob","enabled":false}`,
		`{"name":"interns","description":"summer"}`,
		`{"group":"staff"}`,
		`{"group":""}`,
		`{"file_transfer":true,"max_file_bytes":1048576,"blocked_extensions":["exe","*"],"optimize_allowed":false}`,
		`{"blocked_extensions":"exe, bat"}`,
		`{"max_file_bytes":-5}`,
		`{"max_file_bytes":1e400}`,
		`{"id":"\u0000","backend":"x"}`,
		`{"id":"a","backend":"gw"}{}`,
		`null`,
		``,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		target := targets[int(which)%len(targets)]
		req, err := http.NewRequest(target.method, srv.URL()+target.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+admintest.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			t.Fatalf("%s %s %q: answer is not a JSON object: %v", target.method, target.path, body, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", target.method, target.path, body, resp.StatusCode, answer["error"])
		}
		if resp.StatusCode >= 400 {
			var e struct{ Code, Message string }
			if err := json.Unmarshal(answer["error"], &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s %q: %d without a typed error: %v", target.method, target.path, body, resp.StatusCode, answer)
			}
		}
	})
}
