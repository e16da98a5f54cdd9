package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
)

func TestClientRefusesToSendTheTokenOffHost(t *testing.T) {
	for _, addr := range []string{"192.0.2.1:4102", "admin.example.com:4102", "http://10.1.1.1:4102", ":4102"} {
		if _, err := admin.NewClient(addr, admintest.Token); !errors.Is(err, admin.ErrNotLoopback) {
			t.Errorf("NewClient(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	if _, err := admin.NewClient("unix:", admintest.Token); !errors.Is(err, admin.ErrBadAddress) {
		t.Errorf("NewClient(unix:): %v", err)
	}
	if _, err := admin.NewClient("127.0.0.1:4102", ""); !errors.Is(err, admin.ErrBadToken) {
		t.Errorf("NewClient without a token: %v", err)
	}
}

func TestClientReportsNonAPIAnswers(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"html error": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		},
		"not json": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		},
	} {
		srv := httptest.NewServer(h)
		c, err := admin.NewClient(srv.URL, admintest.Token)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Health(context.Background())
		if admin.ErrorCode(err) != admin.CodeUnexpectedResponse {
			t.Errorf("%s: %v", name, err)
		}
		srv.Close()
	}
}

func TestClientWrongToken(t *testing.T) {
	srv := admintest.NewServer(t)
	c, err := admin.NewClient(srv.Addr(), "not-the-right-token-at-all")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Users(context.Background())
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != admin.CodeUnauthorized {
		t.Errorf("Users with a wrong token: %v", err)
	}
}
