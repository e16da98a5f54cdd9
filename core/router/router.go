package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Account is what the configuration database says about a user.
type Account struct {
	User         string
	Backend      string // which backend serves the user
	BackendLogin string // the user's login name on that backend
}

// Directory is the configuration database as the router needs it. It
// returns an error wrapping ErrPermissionDenied for unknown or disabled
// users.
type Directory interface {
	Authorize(ctx context.Context, user string) (Account, error)
}

// Backends gives access to running backend plugins. Backend returns the
// plugin's client and the Info it reported at start, or an error wrapping
// ErrBackendUnavailable when the plugin is not running.
type Backends interface {
	Backend(name string) (*sdk.Client, sdk.Info, error)
}

// Options configure a Router.
type Options struct {
	Directory Directory
	Backends  Backends
	Sessions  *session.Manager
	// Servers is the IM server address of each backend, from the config.
	Servers map[string]sdk.ServerAddress
	// Files runs file transfers; nil answers them unsupported.
	Files  *filexfer.Manager
	Logger hclog.Logger
}

// Router routes requests and events between devices and backends.
type Router struct {
	dir      Directory
	backends Backends
	sessions *session.Manager
	servers  map[string]sdk.ServerAddress
	files    *filexfer.Manager
	logger   hclog.Logger
}

// New returns a Router.
func New(o Options) *Router {
	logger := o.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Router{dir: o.Directory, backends: o.Backends, sessions: o.Sessions, servers: o.Servers, files: o.Files, logger: logger}
}

// Login authorises the user in the configuration database, then opens the
// user's backend session or joins the existing one.
func (r *Router) Login(ctx context.Context, hello *devicev1.Hello, req *devicev1.Login) (*session.Device, *devicev1.SessionOpened, error) {
	if req.GetUser() == "" {
		return nil, nil, fmt.Errorf("%w: login without a user name", ErrInvalid)
	}
	acct, err := r.dir.Authorize(ctx, req.User)
	if err != nil {
		return nil, nil, err
	}
	var snap sdk.Snapshot
	open := func(ctx context.Context, s *session.Session) (sdk.Capabilities, error) {
		client, info, err := r.backends.Backend(s.Backend)
		if err != nil {
			return sdk.Capabilities{}, err
		}
		snap, err = client.OpenSession(ctx, sdk.Credentials{SessionID: s.ID, Login: s.Login, Password: req.Password, Server: r.servers[s.Backend]})
		return info.Capabilities, err
	}
	dev, token, created, err := r.sessions.Login(ctx, acct.User, acct.Backend, acct.BackendLogin, req.Password, hello.GetDeviceId(), open)
	if err != nil {
		return nil, nil, err
	}
	s := dev.Session()
	if !created {
		snap, err = r.snapshot(ctx, s)
		if errors.Is(err, &sdk.Error{Reason: sdk.ReasonUnsupported}) {
			err = nil // the backend keeps no snapshot: the device starts with an empty list
		}
		if err != nil {
			r.sessions.Logout(dev)
			return nil, nil, err
		}
	}
	dev.Screen = hello.GetScreen()
	r.logger.Info("login", "user", s.User, "backend", s.Backend, "session", s.ID, "joined", !created)
	return dev, &devicev1.SessionOpened{SessionId: s.ID, ResumeToken: token, User: s.User, Backend: s.Backend,
		LastSeq: s.LastSeq(), Snapshot: snapshotToDevice(snap), Capabilities: capsToDevice(s.Caps)}, nil
}

// Resume re-attaches a device to its session without a backend call.
func (r *Router) Resume(ctx context.Context, hello *devicev1.Hello, req *devicev1.Resume) (*session.Device, *devicev1.SessionOpened, error) {
	dev, token, err := r.sessions.Resume(req.GetSessionId(), req.GetResumeToken(), req.GetLastSeq(), hello.GetDeviceId())
	if err != nil {
		return nil, nil, err
	}
	s := dev.Session()
	dev.Screen = hello.GetScreen()
	r.logger.Debug("resume", "user", s.User, "session", s.ID, "last_seq", req.GetLastSeq())
	return dev, &devicev1.SessionOpened{SessionId: s.ID, ResumeToken: token, User: s.User, Backend: s.Backend,
		LastSeq: s.LastSeq(), Resumed: true, Capabilities: capsToDevice(s.Caps)}, nil
}

func (r *Router) snapshot(ctx context.Context, s *session.Session) (sdk.Snapshot, error) {
	client, _, err := r.backends.Backend(s.Backend)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return client.Snapshot(ctx, s.ID)
}

// SnapshotEvent fetches the session's contact list and presence as an
// event, for a device that just learned of a gap in its events. It returns
// nil if the backend cannot answer; the device can still ask with
// GetContacts.
func (r *Router) SnapshotEvent(ctx context.Context, s *session.Session) *devicev1.Event {
	snap, err := r.snapshot(ctx, s)
	if err != nil {
		r.logger.Warn("snapshot after a gap", "session", s.ID, "error", err)
		return nil
	}
	return &devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_Snapshot{Snapshot: snapshotToDevice(snap)}}
}

// Logout removes the device; the backend session ends with the last one.
func (r *Router) Logout(d *session.Device) {
	if r.files != nil {
		r.files.DeviceGone(d)
	}
	r.sessions.Logout(d)
}

// CloseBackendSession logs a session out of its backend. The session
// manager calls it when a session ends.
func (r *Router) CloseBackendSession(s *session.Session, reason string) {
	r.logger.Info("session ended", "user", s.User, "backend", s.Backend, "session", s.ID, "reason", reason)
	if r.files != nil {
		r.files.SessionEnded(s)
	}
	client, _, err := r.backends.Backend(s.Backend)
	if err != nil {
		return // the plugin is gone, and the backend session with it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.CloseSession(ctx, s.ID); err != nil {
		r.logger.Warn("closing backend session", "session", s.ID, "error", err)
	}
}

// Handle runs one device request and returns the response message.
func (r *Router) Handle(ctx context.Context, d *session.Device, m *devicev1.Message) *devicev1.Message {
	s := d.Session()
	s.Touch()
	var body *devicev1.Message
	var err error
	if isFileRequest(m) {
		body, err = r.handleFile(ctx, d, m)
	} else {
		body, err = r.handle(ctx, s, m)
	}
	return response(m.Id, body, err)
}

// response is the answer to request id: body, or the device error for err.
func response(id uint64, body *devicev1.Message, err error) *devicev1.Message {
	if err != nil {
		return &devicev1.Message{Id: id, Body: &devicev1.Message_Error{Error: DeviceError(err)}}
	}
	body.Id = id
	return body
}

// HandleAsync starts one device request and calls done exactly once with
// its response, possibly on another goroutine and after HandleAsync has
// returned. Requests of one device reach the backend in the order they were
// started, so a link may start the next request before the previous one is
// answered; it must not call HandleAsync for one device concurrently.
//
// SendMessage, SendTyping and SetPresence go onto the plugin's call stream
// and HandleAsync returns at once; done then runs on the goroutine that
// receives the plugin's results, so it must not block. Other requests are
// answered before HandleAsync returns; the plugin client holds them until
// the session's earlier streamed calls have their results, so they cannot
// overtake them.
func (r *Router) HandleAsync(ctx context.Context, d *session.Device, m *devicev1.Message, done func(*devicev1.Message)) {
	switch m.Body.(type) {
	case *devicev1.Message_SendMessage, *devicev1.Message_SendTyping, *devicev1.Message_SetPresence:
	default:
		done(r.Handle(ctx, d, m))
		return
	}
	s := d.Session()
	s.Touch()
	client, _, err := r.backends.Backend(s.Backend)
	if err != nil {
		done(response(m.Id, nil, err))
		return
	}
	r.streamed(ctx, s, client, m, done)
}

// streamed runs a request that travels on the plugin's call stream and
// calls done with its response. The request must be one of SendMessage,
// SendTyping and SetPresence.
func (r *Router) streamed(ctx context.Context, s *session.Session, client *sdk.Client, m *devicev1.Message, done func(*devicev1.Message)) {
	switch b := m.Body.(type) {
	case *devicev1.Message_SendMessage:
		r.sendMessage(ctx, s, client, m.Id, b.SendMessage, done)
	case *devicev1.Message_SendTyping:
		t := b.SendTyping
		client.SendTypingAsync(ctx, s.ID, sdk.Typing{ConversationID: t.ConversationId, To: t.To, Typing: t.Typing}, okOrErr(m.Id, done))
	case *devicev1.Message_SetPresence:
		p := b.SetPresence
		client.SetPresenceAsync(ctx, s.ID, sdk.Presence{Status: sdk.PresenceStatus(p.Status), Note: p.Note}, okOrErr(m.Id, done))
	default:
		done(response(m.Id, nil, fmt.Errorf("%w: %T does not travel on the call stream", ErrInvalid, m.Body)))
	}
}

// okOrErr answers request id with Ok, or with err when there is one.
func okOrErr(id uint64, done func(*devicev1.Message)) func(error) {
	return func(err error) {
		if err != nil {
			done(response(id, nil, err))
			return
		}
		done(response(id, ok(), nil))
	}
}

// sendMessage sends a chat message and answers request id through done:
// a retried client message id is answered from the session's dedupe
// window instead of being sent again.
func (r *Router) sendMessage(ctx context.Context, s *session.Session, client *sdk.Client, id uint64, req *devicev1.SendMessage, done func(*devicev1.Message)) {
	if req.To == "" && req.ConversationId == "" {
		done(response(id, nil, fmt.Errorf("%w: a message needs a recipient or a conversation", ErrInvalid)))
		return
	}
	conv, dup, err := s.Claim(ctx, req.ClientMsgId)
	if err != nil {
		done(response(id, nil, err))
		return
	}
	if dup {
		done(response(id, messageSent(conv, true), nil))
		return
	}
	client.SendMessageAsync(ctx, sdk.OutgoingMessage{SessionID: s.ID, ConversationID: req.ConversationId,
		To: req.To, Text: req.Text, IdempotencyKey: req.ClientMsgId}, func(conv string, err error) {
		s.Finish(req.ClientMsgId, conv, err == nil)
		if err != nil {
			done(response(id, nil, err))
			return
		}
		done(response(id, messageSent(conv, false), nil))
	})
}

// sentAnswer is a MessageSent answer in one allocation rather than three:
// there is one per chat message relayed.
type sentAnswer struct {
	msg  devicev1.Message
	body devicev1.Message_MessageSent
	sent devicev1.MessageSent
}

// messageSent answers a SendMessage that went to conversation conv.
func messageSent(conv string, duplicate bool) *devicev1.Message {
	a := new(sentAnswer)
	a.sent.ConversationId, a.sent.Duplicate = conv, duplicate
	a.body.MessageSent = &a.sent
	a.msg.Body = &a.body
	return &a.msg
}

func ok() *devicev1.Message { return &devicev1.Message{Body: &devicev1.Message_Ok{Ok: &devicev1.Ok{}}} }

func (r *Router) handle(ctx context.Context, s *session.Session, m *devicev1.Message) (*devicev1.Message, error) {
	client, _, err := r.backends.Backend(s.Backend)
	if err != nil {
		return nil, err
	}
	switch b := m.Body.(type) {
	case *devicev1.Message_SendMessage, *devicev1.Message_SendTyping, *devicev1.Message_SetPresence:
		ch := make(chan *devicev1.Message, 1)
		r.streamed(ctx, s, client, m, func(resp *devicev1.Message) { ch <- resp })
		return <-ch, nil // the whole response, an error answer included
	case *devicev1.Message_GetContacts:
		snap, err := client.Snapshot(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		return &devicev1.Message{Body: &devicev1.Message_Snapshot{Snapshot: snapshotToDevice(snap)}}, nil
	case *devicev1.Message_AddContact:
		c := b.AddContact
		return ok(), client.AddContact(ctx, s.ID, sdk.Contact{UserID: c.UserId, FolderID: c.FolderId, DisplayName: c.DisplayName})
	case *devicev1.Message_RemoveContact:
		return ok(), client.RemoveContact(ctx, s.ID, b.RemoveContact.UserId)
	case *devicev1.Message_MoveContact:
		return ok(), client.MoveContact(ctx, s.ID, b.MoveContact.UserId, b.MoveContact.FolderId)
	case *devicev1.Message_CreateConversation:
		id, err := client.CreateConversation(ctx, s.ID, b.CreateConversation.Participants)
		if err != nil {
			return nil, err
		}
		return &devicev1.Message{Body: &devicev1.Message_ConversationCreated{ConversationCreated: &devicev1.ConversationCreated{ConversationId: id}}}, nil
	case *devicev1.Message_LeaveConversation:
		return ok(), client.LeaveConversation(ctx, s.ID, b.LeaveConversation.ConversationId)
	case *devicev1.Message_InviteToConversation:
		i := b.InviteToConversation
		return ok(), client.InviteToConversation(ctx, s.ID, i.ConversationId, i.UserId, i.Text)
	}
	return nil, fmt.Errorf("%w: unexpected message %T", ErrInvalid, m.Body)
}

// Deliver turns a batch of plugin events into session events. It is called
// on the plugin's event stream and never blocks on a device.
func (r *Router) Deliver(backend string, events []sdk.Event) {
	for _, e := range events {
		s, ok := r.sessions.Get(e.SessionID)
		if !ok || s.Backend != backend {
			continue // the session ended meanwhile
		}
		if rs, isResync := e.Kind.(sdk.ResyncEvent); isResync {
			go r.resync(s, rs.Dropped)
			continue
		}
		if r.deliverFile(backend, s, e) {
			continue
		}
		ev, known := eventToDevice(e)
		if !known {
			continue
		}
		s.Deliver(ev)
		if _, ended := e.Kind.(sdk.SessionEndedEvent); ended {
			r.sessions.End(s, "backend ended the session")
		}
	}
}

// resync sends a gap marker and a fresh snapshot after the plugin lost
// events of the session.
func (r *Router) resync(s *session.Session, dropped uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Deliver(&devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_Gap{Gap: &devicev1.Gap{AfterSeq: s.LastSeq(), Dropped: dropped}}})
	snap, err := r.snapshot(ctx, s)
	if err != nil {
		r.logger.Warn("resync snapshot", "session", s.ID, "error", err)
		return
	}
	s.Deliver(&devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_Snapshot{Snapshot: snapshotToDevice(snap)}})
}

// BackendDown handles a backend whose plugin went away (crashed, failed
// its health checks, or came back as a new process without the old one's
// sessions). Sessions with a cached password are kept and re-opened by
// ReopenSessions once the plugin is up; the others end, and their devices
// are told to log in again.
func (r *Router) BackendDown(backend string, cause error) {
	for _, s := range r.sessions.MarkReopen(backend) {
		s.Deliver(&devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_SessionEnded{SessionEnded: &devicev1.SessionEnded{
			Reason: devicev1.ErrorCode_RELOGIN_REQUIRED, Message: fmt.Sprintf("backend %s restarted: log in again", backend)}}})
		r.sessions.End(s, "plugin restarted")
	}
	if cause != nil && !errors.Is(cause, context.Canceled) {
		r.logger.Warn("backend down", "backend", backend, "error", cause)
	}
}

// ReopenSessions opens the backend sessions of a backend that is up again
// (after a plugin restart or a gateway restart) with their cached
// passwords, silently: devices stay attached and get a fresh snapshot
// event, since presence may have changed meanwhile.
func (r *Router) ReopenSessions(ctx context.Context, backend string) {
	client, _, err := r.backends.Backend(backend)
	if err != nil {
		return
	}
	for _, s := range r.sessions.NeedsReopen(backend) {
		password, err := r.sessions.Password(s)
		if err == nil {
			var snap sdk.Snapshot
			snap, err = client.OpenSession(ctx, sdk.Credentials{SessionID: s.ID, Login: s.Login, Password: password, Server: r.servers[backend]})
			if err == nil {
				s.Reopened()
				s.Deliver(&devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_Snapshot{Snapshot: snapshotToDevice(snap)}})
				r.logger.Info("session re-opened", "user", s.User, "backend", backend, "session", s.ID)
				continue
			}
		}
		if errors.Is(err, &sdk.Error{Reason: sdk.ReasonUnauthenticated}) || errors.Is(err, session.ErrReloginRequired) {
			s.Deliver(&devicev1.Event{TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_SessionEnded{SessionEnded: &devicev1.SessionEnded{
				Reason: devicev1.ErrorCode_RELOGIN_REQUIRED, Message: "the IM server refused the cached credentials: log in again"}}})
			r.sessions.End(s, "re-open refused")
			continue
		}
		r.logger.Warn("re-opening session", "user", s.User, "session", s.ID, "error", err)
	}
}
