package sametime

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// declineTimeout bounds the decline of an offer evicted by a newer one.
const declineTimeout = 5 * time.Second

// SendFile implements sdk.FileTransfer: the file is offered to one user
// and, once accepted, streamed from r through the server. An offer above
// the configured limit is refused here; one the server refuses gets
// ReasonFileTooLarge with the configured limit too, since Sametime does
// not say what its limit is.
func (b *Backend) SendFile(ctx context.Context, h sdk.FileHeader, r io.Reader) error {
	s, err := b.session(h.SessionID)
	if err != nil {
		return err
	}
	if h.Size > s.limit {
		return &sdk.Error{Reason: sdk.ReasonFileTooLarge, LimitBytes: s.limit,
			Message: fmt.Sprintf("sametime: %d bytes exceed the server's limit of %d", h.Size, s.limit)}
	}
	t, err := s.target(ctx, h.ConversationID, h.To)
	if err != nil {
		return err
	}
	if t.conf != nil {
		return sdk.Errorf(sdk.ReasonUnsupported, "sametime: files go to one user, not to a conference")
	}
	name := safeFileName(h.Name)
	if err := s.client.SendFile(ctx, t.peer, name, int64(h.Size), r); err != nil {
		return requestError("send file", err, s.limit)
	}
	s.log.Debug("file sent", "transfer", h.TransferID, "bytes", h.Size)
	return nil
}

// safeFileName keeps the last element of a path from either kind of
// separator, so that a name never names a directory.
func safeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// onFileOffer reports an incoming offer under a new transfer id. Sametime
// does not tell when a sender withdraws an offer, so unanswered offers are
// bounded: beyond maxPendingOffers the oldest is declined and reported
// cancelled.
func (s *session) onFileOffer(o *stclient.FileOffer) {
	s.mu.Lock()
	id := s.newTransferID()
	s.offers[id] = o
	s.offerOrder = append(s.offerOrder, id)
	s.incoming[o.ID] = &transferProgress{id: id}
	var evicted string
	var old *stclient.FileOffer
	if len(s.offerOrder) > maxPendingOffers {
		evicted, s.offerOrder = s.offerOrder[0], s.offerOrder[1:]
		old = s.offers[evicted]
		delete(s.offers, evicted)
		delete(s.incoming, old.ID)
	}
	s.mu.Unlock()
	s.emit(sdk.FileOfferEvent{TransferID: id, From: o.From, Name: safeFileName(o.Name), Size: uint64(o.Size),
		ConversationID: imPrefix + o.From})
	if old == nil {
		return
	}
	s.log.Warn("too many unanswered file offers; declining the oldest", "transfer", evicted)
	ctx, cancel := context.WithTimeout(context.Background(), declineTimeout)
	defer cancel()
	if err := old.Decline(ctx); err != nil {
		s.log.Debug("declining a file offer", "error", err)
	}
	s.emit(sdk.FileProgressEvent{TransferID: evicted, State: sdk.FileCancelled, Reason: sdk.ReasonCancelled})
}

// onFileProgress reports an incoming transfer's progress every
// progressStep bytes and at its end.
func (s *session) onFileProgress(e stclient.FileProgressEvent) {
	if !e.Incoming {
		return
	}
	s.mu.Lock()
	p := s.incoming[e.Transfer]
	report := p != nil && (e.Bytes-p.reported >= progressStep || e.Bytes == e.Size)
	var id string
	if report {
		p.reported, id = e.Bytes, p.id
	}
	s.mu.Unlock()
	if report {
		s.emit(sdk.FileProgressEvent{TransferID: id, State: sdk.FileTransferring, Bytes: uint64(e.Bytes)})
	}
}

// takeOffer removes an unanswered offer.
func (s *session) takeOffer(transferID string) (*stclient.FileOffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.offers[transferID]
	if o == nil {
		return nil, sdk.Errorf(sdk.ReasonNotFound, "sametime: no file offer %q", transferID)
	}
	delete(s.offers, transferID)
	if i := slices.Index(s.offerOrder, transferID); i >= 0 {
		s.offerOrder = slices.Delete(s.offerOrder, i, i+1)
	}
	return o, nil
}

func (s *session) transferDone(o *stclient.FileOffer) {
	s.mu.Lock()
	delete(s.incoming, o.ID)
	s.mu.Unlock()
}

// ReceiveFile implements sdk.FileTransfer: it accepts the offer and writes
// the data to w as it arrives, acknowledging chunk by chunk.
func (b *Backend) ReceiveFile(ctx context.Context, sessionID, transferID string, w io.Writer) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	o, err := s.takeOffer(transferID)
	if err != nil {
		return err
	}
	defer s.transferDone(o)
	n, err := o.Accept(ctx, w)
	if err != nil {
		err = requestError("receive file", err, s.limit)
		s.emit(sdk.FileProgressEvent{TransferID: transferID, State: sdk.FileFailed, Bytes: uint64(n), Reason: sdk.ReasonOf(err)})
		return err
	}
	s.emit(sdk.FileProgressEvent{TransferID: transferID, State: sdk.FileCompleted, Bytes: uint64(n)})
	return nil
}

// DeclineFile implements sdk.FileTransfer; the sender learns that the
// recipient declined (reason 0x08000606).
func (b *Backend) DeclineFile(ctx context.Context, sessionID, transferID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	o, err := s.takeOffer(transferID)
	if err != nil {
		return err
	}
	defer s.transferDone(o)
	if err := o.Decline(ctx); err != nil {
		return requestError("decline file", err, s.limit)
	}
	return nil
}
