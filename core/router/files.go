package router

import (
	"context"
	"fmt"
	"time"

	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Files is the file transfer manager, nil when the gateway runs without
// one (every file request is then answered unsupported).
func (r *Router) Files() *filexfer.Manager { return r.files }

// isFileRequest reports whether m is a file transfer request, answered
// by handleFile.
func isFileRequest(m *devicev1.Message) bool {
	switch m.Body.(type) {
	case *devicev1.Message_OfferFile, *devicev1.Message_AcceptFile, *devicev1.Message_DeclineFile, *devicev1.Message_CancelFile:
		return true
	}
	return false
}

// handleFile runs a file transfer request of device d. FileChunk and
// FileChunkAck are not requests: the link hands them to Files directly.
func (r *Router) handleFile(ctx context.Context, d *session.Device, m *devicev1.Message) (*devicev1.Message, error) {
	s := d.Session()
	if r.files == nil || !s.Caps.FileTransfer {
		if o := m.GetOfferFile(); o != nil && r.files != nil {
			// Offer records the refusal in the transfer log.
			_, err := r.files.Offer(ctx, nil, d, o)
			return nil, err
		}
		return nil, &sdk.Error{Reason: sdk.ReasonUnsupported, Message: fmt.Sprintf("backend %s has no file transfer", s.Backend)}
	}
	client, _, err := r.backends.Backend(s.Backend)
	if err != nil {
		return nil, err
	}
	switch b := m.Body.(type) {
	case *devicev1.Message_OfferFile:
		offered, err := r.files.Offer(ctx, client, d, b.OfferFile)
		if err != nil {
			return nil, err
		}
		return &devicev1.Message{Body: &devicev1.Message_FileOffered{FileOffered: offered}}, nil
	case *devicev1.Message_AcceptFile:
		return ok(), r.files.Accept(ctx, client, d, b.AcceptFile)
	case *devicev1.Message_DeclineFile:
		return ok(), r.files.Decline(ctx, client, d, b.DeclineFile.TransferId)
	case *devicev1.Message_CancelFile:
		return ok(), r.files.Cancel(ctx, client, d, b.CancelFile.TransferId)
	}
	return nil, fmt.Errorf("%w: unexpected message %T", ErrInvalid, m.Body)
}

// deliverFile hands a plugin's file event to Files and reports whether it
// took it; the others go to the session as they are.
func (r *Router) deliverFile(backend string, s *session.Session, e sdk.Event) bool {
	if r.files == nil {
		return false
	}
	switch k := e.Kind.(type) {
	case sdk.FileOfferEvent:
		client, _, err := r.backends.Backend(backend)
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.files.Offered(ctx, client, s, k)
		return true
	case sdk.FileProgressEvent:
		return r.files.Progress(s, k)
	}
	return false
}
