package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/configdb"
)

// Options configure the admin API handler.
type Options struct {
	// Store is the configuration database (*configdb.DB). Required.
	Store configdb.Store
	// Sessions lists and ends live sessions; SessionManager adapts the
	// daemon's *session.Manager. Nil means no sessions: lists are empty
	// and kicks end nothing.
	Sessions Sessions
	// Plugins reports on and reloads backend plugins. Nil means no
	// plugins: the list is empty and reload answers "unavailable".
	Plugins Plugins
	// Token is the bearer token every request must carry, as returned by
	// EnsureToken. Required.
	Token string
	// DefaultPolicy is the configuration file's file_policy: the policy of
	// users whose group has none, and the starting point when a group's
	// policy is first set.
	DefaultPolicy configdb.Policy
	// Backends are the configured backend names; adding a user with
	// another backend is refused. Empty means any backend name is taken.
	Backends []string
	// Logger receives one line per change; nil discards.
	Logger hclog.Logger
}

// Sessions is the daemon's session cache as the admin API needs it.
type Sessions interface {
	// List describes every live session.
	List() []SessionInfo
	// Kick ends every session of a user (login names compare without
	// regard to case) and returns how many it ended.
	Kick(user, reason string) int
}

// Plugins is the daemon's plugin host as the admin API needs it.
type Plugins interface {
	// Status describes every configured backend's plugin.
	Status() []PluginStatus
	// Reload rescans the plugin directory and restarts changed or failed
	// plugins.
	Reload(ctx context.Context) error
}

// Kick reasons passed to Sessions.Kick; the daemon logs them.
const (
	ReasonKicked      = "kicked by admin"
	ReasonUserDisable = "user disabled by admin"
	ReasonUserDelete  = "user deleted by admin"
)

const (
	// maxBodyBytes bounds a request body; the largest legitimate one (a
	// policy with many extensions) is far smaller.
	maxBodyBytes = 64 << 10
	// actorAPI is the audit log's actor for requests whose peer is not
	// known.
	actorAPI = "admin-api"
)

// api is the admin API handler.
type api struct {
	store         configdb.Store
	sessions      Sessions
	plugins       Plugins
	token         string
	defaultPolicy configdb.Policy
	backends      []string
	log           hclog.Logger
	mux           *http.ServeMux
}

// New returns the admin API handler. It fails with ErrBadOptions when
// Store is nil or Token is not a usable token.
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("%w: no Store", ErrBadOptions)
	}
	if err := CheckToken(o.Token); err != nil {
		return nil, fmt.Errorf("%w: Token: %w", ErrBadOptions, err)
	}
	a := &api{store: o.Store, sessions: o.Sessions, plugins: o.Plugins, token: o.Token,
		defaultPolicy: o.DefaultPolicy, backends: o.Backends, log: o.Logger, mux: http.NewServeMux()}
	if a.sessions == nil {
		a.sessions = noSessions{}
	}
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	a.routes()
	return a, nil
}

// route is one path of the API and its handler per method.
type route struct {
	path    string
	methods map[string]handlerFunc
}

// handlerFunc answers a request with a status and a value to encode, or
// an error (an *APIError, or any other error for a 500).
type handlerFunc func(r *http.Request) (int, any, error)

func (a *api) routes() {
	for _, rt := range []route{
		{"/v1/health", map[string]handlerFunc{"GET": a.health}},
		{"/v1/users", map[string]handlerFunc{"GET": a.listUsers, "POST": a.addUser}},
		{"/v1/users/{id}", map[string]handlerFunc{"GET": a.getUser, "DELETE": a.deleteUser}},
		{"/v1/users/{id}/enable", map[string]handlerFunc{"POST": a.enableUser}},
		{"/v1/users/{id}/disable", map[string]handlerFunc{"POST": a.disableUser}},
		{"/v1/users/{id}/group", map[string]handlerFunc{"PUT": a.setUserGroup}},
		{"/v1/users/{id}/policy", map[string]handlerFunc{"GET": a.userPolicy}},
		{"/v1/users/{id}/sessions", map[string]handlerFunc{"DELETE": a.kickUser}},
		{"/v1/groups", map[string]handlerFunc{"GET": a.listGroups, "POST": a.addGroup}},
		{"/v1/groups/{name}", map[string]handlerFunc{"DELETE": a.deleteGroup}},
		{"/v1/groups/{name}/policy", map[string]handlerFunc{"GET": a.groupPolicy, "PATCH": a.setPolicy, "DELETE": a.deletePolicy}},
		{"/v1/policies", map[string]handlerFunc{"GET": a.listPolicies}},
		{"/v1/audit", map[string]handlerFunc{"GET": a.audit}},
		{"/v1/transfers", map[string]handlerFunc{"GET": a.transfers}},
		{"/v1/sessions", map[string]handlerFunc{"GET": a.listSessions}},
		{"/v1/plugins", map[string]handlerFunc{"GET": a.listPlugins}},
		{"/v1/plugins/reload", map[string]handlerFunc{"POST": a.reloadPlugins}},
	} {
		allowed := make([]string, 0, len(rt.methods))
		for method, h := range rt.methods {
			a.mux.Handle(method+" "+rt.path, a.serve(h))
			allowed = append(allowed, method)
		}
		slices.Sort(allowed)
		allow := strings.Join(allowed, ", ")
		a.mux.Handle(rt.path, a.serve(func(r *http.Request) (int, any, error) {
			return 0, nil, &APIError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("%s %s: allowed: %s", r.Method, r.URL.Path, allow)}
		}))
	}
	a.mux.Handle("/", a.serve(func(r *http.Request) (int, any, error) {
		return 0, nil, &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint: " + r.URL.Path}
	}))
}

// ServeHTTP checks the token, then routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !tokenMatches(a.token, tok) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="parley-admin"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{errorDetail{Code: CodeUnauthorized,
			Message: "missing or wrong admin token (Authorization: Bearer <token from the admin token file>)"}})
		return
	}
	a.mux.ServeHTTP(w, r)
}

// serve turns a handlerFunc into an http.Handler writing JSON.
func (a *api) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, v, err := h(r)
		if err == nil {
			writeJSON(w, status, v)
			return
		}
		ae, ok := errors.AsType[*APIError](err)
		if !ok {
			a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			ae = &APIError{Status: http.StatusInternalServerError, Code: CodeInternal,
				Message: "internal error; parleyd's log has the details"}
		}
		writeJSON(w, ae.Status, errorBody{errorDetail{Code: ae.Code, Message: ae.Message}})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// decode reads a JSON request body into v: at most maxBodyBytes, no
// unknown fields, nothing after the value.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&json.RawMessage{}) != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body is over %d bytes", maxBodyBytes)}
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("empty body")
	}
	return badRequest("request body: %v", err)
}

func badRequest(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// storeError maps a configuration database error to an API error;
// notFoundMsg is the message for ErrNotFound. Errors the admin cannot act
// on stay as they are (a 500, logged).
func storeError(err error, notFoundMsg string) error {
	msg := strings.ReplaceAll(err.Error(), "configdb: ", "")
	switch {
	case errors.Is(err, configdb.ErrNotFound):
		return &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: notFoundMsg}
	case errors.Is(err, configdb.ErrExists):
		return &APIError{Status: http.StatusConflict, Code: CodeAlreadyExists, Message: msg}
	case errors.Is(err, configdb.ErrInUse):
		return &APIError{Status: http.StatusConflict, Code: CodeInUse, Message: msg}
	case errors.Is(err, configdb.ErrInvalid):
		return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidArgument, Message: msg}
	}
	return err
}

type actorKey struct{}

// actor names the admin in the audit log: "admin-api", or on a unix
// socket "admin-api uid=<peer uid>" when the server was made by
// NewHTTPServer.
func actor(r *http.Request) string {
	if s, ok := r.Context().Value(actorKey{}).(string); ok {
		return s
	}
	return actorAPI
}

// NewHTTPServer returns an http.Server for the admin handler with
// timeouts, a bounded header size, and, on unix sockets, the peer's user
// id recorded as the audit log's actor. Serve it on the listener from
// Listen; stop it with Shutdown.
func NewHTTPServer(h http.Handler, logger hclog.Logger) *http.Server {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a plugin reload may take a while
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if uid, ok := peerUID(c); ok {
				return context.WithValue(ctx, actorKey{}, fmt.Sprintf("%s uid=%d", actorAPI, uid))
			}
			return ctx
		},
	}
}

// noSessions stands in for a daemon without a session cache.
type noSessions struct{}

func (noSessions) List() []SessionInfo     { return nil }
func (noSessions) Kick(string, string) int { return 0 }
