package sdk

import (
	"context"
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"
	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
)

// maxEventBatch bounds how many events go into one Subscribe message.
const maxEventBatch = 256

// grpcServer adapts a Backend to the parley.backend.v1 service.
type grpcServer struct {
	pb.UnimplementedBackendServer
	impl   Backend
	events *eventQueue
	logger hclog.Logger
}

func newGRPCServer(impl Backend, queueLen int, logger hclog.Logger) *grpcServer {
	return &grpcServer{impl: impl, events: newEventQueue(queueLen), logger: logger}
}

func errUnsupported(what string) *Error {
	return Errorf(ReasonUnsupported, "backend does not support %s", what)
}

func unsupported(what string) error { return toStatus(errUnsupported(what)) }

func (s *grpcServer) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.Info, error) {
	info := s.impl.Info()
	versions := info.APIVersions
	if len(versions) == 0 {
		versions = []uint32{APIVersion}
	}
	return &pb.Info{Name: info.Name, Version: info.Version, ApiVersions: versions, Capabilities: capsToPB(info.Capabilities)}, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	err := s.impl.Configure(ctx, Config{
		Settings:      req.SettingsJson,
		APIVersion:    req.ApiVersion,
		DefaultServer: serverFromPB(req.DefaultServer),
		Events:        s.events,
		Logger:        s.logger,
	})
	return &pb.ConfigureResponse{}, toStatus(err)
}

func (s *grpcServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if h, ok := s.impl.(HealthChecker); ok {
		if err := h.Health(ctx); err != nil {
			return &pb.HealthResponse{Ok: false, Message: err.Error()}, nil
		}
	}
	return &pb.HealthResponse{Ok: true}, nil
}

func (s *grpcServer) OpenSession(ctx context.Context, req *pb.OpenSessionRequest) (*pb.OpenSessionResponse, error) {
	snap, err := s.impl.OpenSession(ctx, Credentials{SessionID: req.SessionId, Login: req.Login,
		Password: req.Password, Server: serverFromPB(req.Server)})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.OpenSessionResponse{Snapshot: snapshotToPB(snap)}, nil
}

func (s *grpcServer) CloseSession(ctx context.Context, req *pb.CloseSessionRequest) (*pb.Empty, error) {
	return &pb.Empty{}, toStatus(s.impl.CloseSession(ctx, req.SessionId))
}

func (s *grpcServer) GetSnapshot(ctx context.Context, req *pb.SessionRequest) (*pb.Snapshot, error) {
	p, ok := s.impl.(SnapshotProvider)
	if !ok {
		return nil, unsupported("snapshots")
	}
	snap, err := p.Snapshot(ctx, req.SessionId)
	if err != nil {
		return nil, toStatus(err)
	}
	return snapshotToPB(snap), nil
}

func (s *grpcServer) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	resp, err := s.sendMessage(ctx, req)
	return resp, toStatus(err)
}

func (s *grpcServer) sendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	conv, err := s.impl.SendMessage(ctx, OutgoingMessage{SessionID: req.SessionId, ConversationID: req.ConversationId,
		To: req.To, Text: req.Text, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return &pb.SendMessageResponse{ConversationId: conv}, nil
}

func (s *grpcServer) SetPresence(ctx context.Context, req *pb.SetPresenceRequest) (*pb.Empty, error) {
	return &pb.Empty{}, toStatus(s.setPresence(ctx, req))
}

func (s *grpcServer) setPresence(ctx context.Context, req *pb.SetPresenceRequest) error {
	p, ok := s.impl.(PresenceSetter)
	if !ok {
		return errUnsupported("presence")
	}
	return p.SetPresence(ctx, req.SessionId, Presence{Status: PresenceStatus(req.Status), Note: req.Note})
}

func (s *grpcServer) SendTyping(ctx context.Context, req *pb.SendTypingRequest) (*pb.Empty, error) {
	return &pb.Empty{}, toStatus(s.sendTyping(ctx, req))
}

func (s *grpcServer) sendTyping(ctx context.Context, req *pb.SendTypingRequest) error {
	t, ok := s.impl.(TypingSender)
	if !ok {
		return errUnsupported("typing notifications")
	}
	return t.SendTyping(ctx, req.SessionId, Typing{ConversationID: req.ConversationId, To: req.To, Typing: req.Typing})
}

func (s *grpcServer) AddContact(ctx context.Context, req *pb.AddContactRequest) (*pb.Empty, error) {
	c, ok := s.impl.(ContactManager)
	if !ok {
		return nil, unsupported("contact management")
	}
	return &pb.Empty{}, toStatus(c.AddContact(ctx, req.SessionId, Contact{UserID: req.UserId, FolderID: req.FolderId, DisplayName: req.DisplayName}))
}

func (s *grpcServer) RemoveContact(ctx context.Context, req *pb.RemoveContactRequest) (*pb.Empty, error) {
	c, ok := s.impl.(ContactManager)
	if !ok {
		return nil, unsupported("contact management")
	}
	return &pb.Empty{}, toStatus(c.RemoveContact(ctx, req.SessionId, req.UserId))
}

func (s *grpcServer) MoveContact(ctx context.Context, req *pb.MoveContactRequest) (*pb.Empty, error) {
	c, ok := s.impl.(ContactManager)
	if !ok {
		return nil, unsupported("contact management")
	}
	return &pb.Empty{}, toStatus(c.MoveContact(ctx, req.SessionId, req.UserId, req.FolderId))
}

func (s *grpcServer) CreateConversation(ctx context.Context, req *pb.CreateConversationRequest) (*pb.CreateConversationResponse, error) {
	c, ok := s.impl.(Conversations)
	if !ok {
		return nil, unsupported("group conversations")
	}
	id, err := c.CreateConversation(ctx, req.SessionId, req.Participants)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateConversationResponse{ConversationId: id}, nil
}

func (s *grpcServer) LeaveConversation(ctx context.Context, req *pb.ConversationRequest) (*pb.Empty, error) {
	c, ok := s.impl.(Conversations)
	if !ok {
		return nil, unsupported("group conversations")
	}
	return &pb.Empty{}, toStatus(c.LeaveConversation(ctx, req.SessionId, req.ConversationId))
}

func (s *grpcServer) InviteToConversation(ctx context.Context, req *pb.InviteRequest) (*pb.Empty, error) {
	c, ok := s.impl.(Conversations)
	if !ok {
		return nil, unsupported("group conversations")
	}
	return &pb.Empty{}, toStatus(c.InviteToConversation(ctx, req.SessionId, req.ConversationId, req.UserId, req.Text))
}

func (s *grpcServer) UploadFile(stream pb.Backend_UploadFileServer) error {
	ft, ok := s.impl.(FileTransfer)
	if !ok {
		return unsupported("file transfer")
	}
	first, err := stream.Recv()
	if err != nil {
		return toStatus(err)
	}
	h := first.GetHeader()
	if h == nil {
		return toStatus(Errorf(ReasonInvalidArgument, "first upload message must be a header"))
	}
	r := &uploadReader{stream: stream, remaining: h.Size}
	err = ft.SendFile(stream.Context(), FileHeader{SessionID: h.SessionId, TransferID: h.TransferId, To: h.To,
		ConversationID: h.ConversationId, Name: h.Name, Extension: h.Extension, Size: h.Size, SHA256: h.Sha256}, r)
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&pb.UploadFileResponse{Bytes: r.read})
}

// uploadReader presents the data messages of an upload stream as an
// io.Reader, refusing more data than the header announced.
type uploadReader struct {
	stream    pb.Backend_UploadFileServer
	buf       []byte
	remaining uint64
	read      uint64
}

func (u *uploadReader) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		msg, err := u.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end of the stream
		}
		u.buf = msg.GetData()
		if uint64(len(u.buf)) > u.remaining {
			return 0, Errorf(ReasonInvalidArgument, "upload carries more data than its header announced")
		}
		u.remaining -= uint64(len(u.buf))
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	u.read += uint64(n)
	return n, nil
}

func (s *grpcServer) DownloadFile(req *pb.DownloadFileRequest, stream pb.Backend_DownloadFileServer) error {
	ft, ok := s.impl.(FileTransfer)
	if !ok {
		return unsupported("file transfer")
	}
	w := &downloadWriter{stream: stream}
	return toStatus(ft.ReceiveFile(stream.Context(), req.SessionId, req.TransferId, w))
}

// FileChunkSize is the size of file data messages across the plugin
// boundary (DESIGN §5: 32–64 KiB).
const FileChunkSize = 64 << 10

type downloadWriter struct {
	stream pb.Backend_DownloadFileServer
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), FileChunkSize)
		if err := d.stream.Send(&pb.FileData{Data: p[:n]}); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

func (s *grpcServer) DeclineFile(ctx context.Context, req *pb.DeclineFileRequest) (*pb.Empty, error) {
	ft, ok := s.impl.(FileTransfer)
	if !ok {
		return nil, unsupported("file transfer")
	}
	return &pb.Empty{}, toStatus(ft.DeclineFile(ctx, req.SessionId, req.TransferId))
}

// Subscribe streams queued events until the gateway goes away.
func (s *grpcServer) Subscribe(_ *pb.SubscribeRequest, stream pb.Backend_SubscribeServer) error {
	ctx := stream.Context()
	var batch []Event // reused: one batch is converted and sent before the next is taken
	for {
		batch = s.events.take(batch[:0], maxEventBatch)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.events.ready:
				continue
			}
		}
		msg := &pb.EventBatch{Events: make([]*pb.Event, len(batch))}
		for i, e := range batch {
			msg.Events[i] = eventToPB(e)
		}
		if err := stream.Send(msg); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
