package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
)

// DefaultCallTimeout bounds every call the host makes when the caller's
// context has no earlier deadline.
const DefaultCallTimeout = 10 * time.Second

// Client is the host half: the gateway's handle on one plugin process. Every
// call except the file transfers gets a deadline (CallTimeout unless the
// context has an earlier one); errors come back as *Error.
//
// SendMessage, SendTyping and SetPresence travel on one long-lived Calls
// stream per plugin, batched with the calls ready at the same time; their
// Async forms return at once and report the result later. Calls of one
// session reach the backend in the order they were started: a unary call
// that names a session (Snapshot, AddContact, SendFile, …) first waits for
// the results of that session's calls on the stream.
type Client struct {
	rpc         pb.BackendClient
	conn        *grpc.ClientConn
	CallTimeout time.Duration
	// ObserveCall, if set, is called once for every call on the Calls
	// stream that fails, with the method the call stands for (e.g.
	// "/parley.backend.v1.Backend/SendMessage") and the gRPC status error
	// a unary call would have returned. Set it before the first call.
	ObserveCall func(method string, err error)

	mu       sync.Mutex
	calls    *callStream
	fallback *sessionWorkers[*streamCall] // set when the plugin has no Calls stream (an older SDK)

	flightMu sync.Mutex
	flights  map[string]int           // calls on the stream per session
	idle     map[string]chan struct{} // closed when a session's calls are done
}

// NewClient wraps a gRPC connection to a plugin.
func NewClient(conn *grpc.ClientConn) *Client {
	return &Client{rpc: pb.NewBackendClient(conn), conn: conn, CallTimeout: DefaultCallTimeout,
		flights: make(map[string]int), idle: make(map[string]chan struct{})}
}

// Conn is the underlying gRPC connection (for the gRPC health service).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

func (c *Client) timeout() time.Duration {
	if c.CallTimeout <= 0 {
		return DefaultCallTimeout
	}
	return c.CallTimeout
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout())
}

// sessionCtx is ctx with the call's deadline, once the session's calls on
// the stream are done.
func (c *Client) sessionCtx(ctx context.Context, sessionID string) (context.Context, context.CancelFunc, error) {
	ctx, cancel := c.ctx(ctx)
	if err := c.after(ctx, sessionID); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, cancel, nil
}

// result is the outcome of a call on the stream, for the blocking forms.
type result struct {
	r   *pb.Result
	err error
}

// call runs a call on the stream and waits for its result.
func (c *Client) call(ctx context.Context, session, method string, call *pb.Call) (*pb.Result, error) {
	ch := make(chan result, 1)
	c.start(ctx, session, method, call, func(r *pb.Result, err error) { ch <- result{r, err} })
	res := <-ch
	return res.r, res.err
}

// GetInfo asks the plugin to describe itself.
func (c *Client) GetInfo(ctx context.Context) (Info, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	info, err := c.rpc.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return Info{Name: info.Name, Version: info.Version, APIVersions: info.ApiVersions, Capabilities: capsFromPB(info.Capabilities)}, nil
}

// Configure hands the plugin its settings.
func (c *Client) Configure(ctx context.Context, settings []byte, server ServerAddress) error {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	_, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{SettingsJson: settings, ApiVersion: APIVersion, DefaultServer: serverToPB(server)})
	return fromStatus(err)
}

// Health runs the plugin's own health check.
func (c *Client) Health(ctx context.Context) error {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.rpc.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return fromStatus(err)
	}
	if !resp.Ok {
		return &Error{Reason: ReasonBackendUnavailable, Message: resp.Message}
	}
	return nil
}

// OpenSession logs a user in.
func (c *Client) OpenSession(ctx context.Context, cred Credentials) (Snapshot, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.rpc.OpenSession(ctx, &pb.OpenSessionRequest{SessionId: cred.SessionID, Login: cred.Login,
		Password: cred.Password, Server: serverToPB(cred.Server)})
	if err != nil {
		return Snapshot{}, fromStatus(err)
	}
	return snapshotFromPB(resp.Snapshot), nil
}

// CloseSession logs a user out.
func (c *Client) CloseSession(ctx context.Context, sessionID string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.CloseSession(ctx, &pb.CloseSessionRequest{SessionId: sessionID})
	return fromStatus(err)
}

// Snapshot fetches a session's contact list and presence.
func (c *Client) Snapshot(ctx context.Context, sessionID string) (Snapshot, error) {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return Snapshot{}, err
	}
	defer cancel()
	resp, err := c.rpc.GetSnapshot(ctx, &pb.SessionRequest{SessionId: sessionID})
	if err != nil {
		return Snapshot{}, fromStatus(err)
	}
	return snapshotFromPB(resp), nil
}

// SendMessage sends a chat message on the call stream and waits for the
// conversation id it went to.
func (c *Client) SendMessage(ctx context.Context, msg OutgoingMessage) (string, error) {
	r, err := c.call(ctx, msg.SessionID, pb.Backend_SendMessage_FullMethodName, sendMessageCall(msg))
	if err != nil {
		return "", err
	}
	return r.GetSendMessage().GetConversationId(), nil
}

// SendMessageAsync starts SendMessage and returns; done is called exactly
// once with the result, usually on the goroutine that receives the
// stream's results (so done must not block), or before SendMessageAsync
// returns if the call fails at once. Calls started one after the other
// reach the backend in that order.
func (c *Client) SendMessageAsync(ctx context.Context, msg OutgoingMessage, done func(conversationID string, err error)) {
	c.start(ctx, msg.SessionID, pb.Backend_SendMessage_FullMethodName, sendMessageCall(msg), func(r *pb.Result, err error) {
		done(r.GetSendMessage().GetConversationId(), err)
	})
}

func sendMessageCall(msg OutgoingMessage) *pb.Call {
	return &pb.Call{Kind: &pb.Call_SendMessage{SendMessage: &pb.SendMessageRequest{SessionId: msg.SessionID,
		ConversationId: msg.ConversationID, To: msg.To, Text: msg.Text, IdempotencyKey: msg.IdempotencyKey}}}
}

// SetPresence publishes the user's presence (on the call stream).
func (c *Client) SetPresence(ctx context.Context, sessionID string, p Presence) error {
	_, err := c.call(ctx, sessionID, pb.Backend_SetPresence_FullMethodName, setPresenceCall(sessionID, p))
	return err
}

// SetPresenceAsync starts SetPresence and returns; done is called as with
// SendMessageAsync.
func (c *Client) SetPresenceAsync(ctx context.Context, sessionID string, p Presence, done func(error)) {
	c.start(ctx, sessionID, pb.Backend_SetPresence_FullMethodName, setPresenceCall(sessionID, p), func(_ *pb.Result, err error) { done(err) })
}

func setPresenceCall(sessionID string, p Presence) *pb.Call {
	return &pb.Call{Kind: &pb.Call_SetPresence{SetPresence: &pb.SetPresenceRequest{SessionId: sessionID,
		Status: pb.PresenceStatus(p.Status), Note: p.Note}}}
}

// SendTyping sends a typing notification (on the call stream).
func (c *Client) SendTyping(ctx context.Context, sessionID string, t Typing) error {
	_, err := c.call(ctx, sessionID, pb.Backend_SendTyping_FullMethodName, sendTypingCall(sessionID, t))
	return err
}

// SendTypingAsync starts SendTyping and returns; done is called as with
// SendMessageAsync.
func (c *Client) SendTypingAsync(ctx context.Context, sessionID string, t Typing, done func(error)) {
	c.start(ctx, sessionID, pb.Backend_SendTyping_FullMethodName, sendTypingCall(sessionID, t), func(_ *pb.Result, err error) { done(err) })
}

func sendTypingCall(sessionID string, t Typing) *pb.Call {
	return &pb.Call{Kind: &pb.Call_SendTyping{SendTyping: &pb.SendTypingRequest{SessionId: sessionID,
		ConversationId: t.ConversationID, To: t.To, Typing: t.Typing}}}
}

// AddContact adds a contact.
func (c *Client) AddContact(ctx context.Context, sessionID string, ct Contact) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.AddContact(ctx, &pb.AddContactRequest{SessionId: sessionID, UserId: ct.UserID, FolderId: ct.FolderID, DisplayName: ct.DisplayName})
	return fromStatus(err)
}

// RemoveContact removes a contact.
func (c *Client) RemoveContact(ctx context.Context, sessionID, userID string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.RemoveContact(ctx, &pb.RemoveContactRequest{SessionId: sessionID, UserId: userID})
	return fromStatus(err)
}

// MoveContact moves a contact to another folder.
func (c *Client) MoveContact(ctx context.Context, sessionID, userID, folderID string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.MoveContact(ctx, &pb.MoveContactRequest{SessionId: sessionID, UserId: userID, FolderId: folderID})
	return fromStatus(err)
}

// CreateConversation starts a multi-party conversation.
func (c *Client) CreateConversation(ctx context.Context, sessionID string, participants []string) (string, error) {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return "", err
	}
	defer cancel()
	resp, err := c.rpc.CreateConversation(ctx, &pb.CreateConversationRequest{SessionId: sessionID, Participants: participants})
	if err != nil {
		return "", fromStatus(err)
	}
	return resp.ConversationId, nil
}

// LeaveConversation leaves a conversation.
func (c *Client) LeaveConversation(ctx context.Context, sessionID, conversationID string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.LeaveConversation(ctx, &pb.ConversationRequest{SessionId: sessionID, ConversationId: conversationID})
	return fromStatus(err)
}

// InviteToConversation invites a user to a conversation.
func (c *Client) InviteToConversation(ctx context.Context, sessionID, conversationID, userID, text string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.InviteToConversation(ctx, &pb.InviteRequest{SessionId: sessionID, ConversationId: conversationID, UserId: userID, Text: text})
	return fromStatus(err)
}

// SendFile streams a file to the plugin. The context bounds the whole
// transfer (no per-call timeout is added: transfers wait for a recipient).
func (c *Client) SendFile(ctx context.Context, h FileHeader, r io.Reader) (uint64, error) {
	if err := c.after(ctx, h.SessionID); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Data messages are read straight into the buffers gRPC sends from
	// (readUploadData), so no chunk is held twice. gRPC keeps every message
	// of a stream for a transparent retry until the plugin answers or
	// 256 KiB have been sent, and the plugin answers an upload only at its
	// end: the first three chunks of every upload stayed live until the
	// fourth was sent. No retry buffer lets each go once it is written.
	stream, err := c.rpc.UploadFile(ctx, grpc.ForceCodecV2(newUploadCodec()), grpc.MaxRetryRPCBufferSize(0))
	if err != nil {
		return 0, fromStatus(err)
	}
	header := &pb.FileHeader{SessionId: h.SessionID, TransferId: h.TransferID, To: h.To, ConversationId: h.ConversationID,
		Name: h.Name, Extension: h.Extension, Size: h.Size, Sha256: h.SHA256}
	if err := stream.Send(&pb.UploadFileRequest{Part: &pb.UploadFileRequest_Header{Header: header}}); err != nil {
		return 0, c.uploadErr(stream, err)
	}
	pool := mem.DefaultBufferPool()
	for {
		msg, n, rerr := readUploadData(r, pool)
		if n > 0 {
			// SendMsg takes the buffer, sent or not.
			if err := stream.SendMsg(msg); err != nil {
				return 0, c.uploadErr(stream, err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return 0, fmt.Errorf("sdk: reading file data: %w", rerr)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, fromStatus(err)
	}
	return resp.Bytes, nil
}

// uploadErr recovers the plugin's real answer after a failed Send: gRPC
// reports io.EOF from Send when the server already returned a status.
func (c *Client) uploadErr(stream pb.Backend_UploadFileClient, err error) error {
	if errors.Is(err, io.EOF) {
		_, err = stream.CloseAndRecv()
	}
	return fromStatus(err)
}

// ReceiveFile accepts an offered file and writes its data to w.
func (c *Client) ReceiveFile(ctx context.Context, sessionID, transferID string, w io.Writer) error {
	if err := c.after(ctx, sessionID); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The stream's codec decodes every message into one buffer; msg.Data
	// is written to w before the next RecvMsg overwrites it.
	stream, err := c.rpc.DownloadFile(ctx, &pb.DownloadFileRequest{SessionId: sessionID, TransferId: transferID},
		grpc.ForceCodecV2(newFileDataCodec()))
	if err != nil {
		return fromStatus(err)
	}
	var msg pb.FileData
	for {
		err := stream.RecvMsg(&msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(err)
		}
		if _, err := w.Write(msg.Data); err != nil {
			return fmt.Errorf("sdk: writing file data: %w", err)
		}
	}
}

// DeclineFile declines an offered file.
func (c *Client) DeclineFile(ctx context.Context, sessionID, transferID string) error {
	ctx, cancel, err := c.sessionCtx(ctx, sessionID)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = c.rpc.DeclineFile(ctx, &pb.DeclineFileRequest{SessionId: sessionID, TransferId: transferID})
	return fromStatus(err)
}

// EventStream is the host's end of Subscribe.
type EventStream struct {
	stream pb.Backend_SubscribeClient
}

// Subscribe opens the plugin's event stream. It lives as long as ctx.
func (c *Client) Subscribe(ctx context.Context) (*EventStream, error) {
	stream, err := c.rpc.Subscribe(ctx, &pb.SubscribeRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return &EventStream{stream: stream}, nil
}

// Recv returns the next batch of events. Events of kinds this SDK does not
// know are skipped. An error means the stream (and usually the plugin) is
// gone.
func (s *EventStream) Recv() ([]Event, error) {
	batch, err := s.stream.Recv()
	if err != nil {
		return nil, fromStatus(err)
	}
	out := make([]Event, 0, len(batch.Events))
	for _, e := range batch.Events {
		if ev, ok := eventFromPB(e); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}
