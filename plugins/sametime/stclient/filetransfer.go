package stclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// offerQueue bounds the chunks waiting between the reader and Accept. The
// sender is stop-and-wait, so one is normal and more is a protocol
// violation.
const offerQueue = 2

// outgoingTransfer is the sender's side of a file channel (spec §5.5).
type outgoingTransfer struct {
	c         *Client
	peer      string
	name      string
	size      int64
	acks      chan struct{} // one token per acknowledged chunk
	lastChunk atomic.Int64  // size of the chunk awaiting its ack
	acked     int64         // reader goroutine only
}

func (*outgoingTransfer) opened(*channel) {}

func (t *outgoingTransfer) received(ch *channel, msgType uint16, _ []byte) {
	if msgType != stproto.FTMsgAck {
		return
	}
	// Count the chunk before releasing the sender, which then stores the
	// size of the next one.
	n := t.lastChunk.Swap(0)
	select {
	case t.acks <- struct{}{}:
	default:
		return // an ack nobody waits for
	}
	t.acked += n
	t.c.emit(FileProgressEvent{Transfer: ch.id, Peer: t.peer, Name: t.name, Bytes: t.acked, Size: t.size})
}

func (*outgoingTransfer) closed(*channel, stproto.ReasonError) {}

// SendFile offers the file name of size bytes to user to and, once
// accepted, streams it from r in 8192-byte chunks, each acknowledged
// before the next is sent, so memory use does not depend on the size. It
// returns when the last chunk was acknowledged and the channel closed.
//
// A refused offer yields a *ServerError matching ErrDeclined (the
// recipient said no), ErrFileTooLarge (the server refused it before the
// recipient saw it — the only refusal a server sends, spec §8.3),
// ErrUserOffline or ErrTransferCanceled. Files over Config.MaxFileSize
// are refused locally with ErrFileTooLarge. The wait for the recipient's
// answer is bounded by Config.OfferTimeout, each acknowledgement by
// Config.RequestTimeout.
func (c *Client) SendFile(ctx context.Context, to, name string, size int64, r io.Reader) error {
	const op = "send file"
	if size < 0 {
		return fmt.Errorf("stclient: %s: negative size %d: %w", op, size, ErrInvalidArgument)
	}
	if size > c.cfg.MaxFileSize {
		return fmt.Errorf("stclient: %s: %d bytes exceeds the limit of %d: %w", op, size, c.cfg.MaxFileSize, ErrFileTooLarge)
	}
	addtl, err := stproto.FTOffer{Filename: name, Size: uint32(size)}.Marshal()
	if err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	t := &outgoingTransfer{c: c, peer: to, name: name, size: size, acks: make(chan struct{}, 1)}
	spec := channelSpec{service: stproto.ServiceFileTransfer, target: to, addtl: addtl, encrypt: true, handler: t}
	c.mu.Lock()
	ch := c.newChannelLocked(spec)
	c.mu.Unlock()
	if err := c.writeCreate(ch, spec); err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	c.log.Debug("file offered", "channel", ch.id, "to", to, "size", size)
	if err := c.waitOpenFor(ctx, op, ch, c.cfg.OfferTimeout); err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			return transferRefusal(se.Reason)
		}
		c.abandon(ch)
		return err
	}
	buf := make([]byte, min(int64(stproto.FTChunkSize), size))
	for sent := int64(0); sent < size; {
		n := min(int64(len(buf)), size-sent)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			_ = c.destroyChannel(ch, stproto.ReasonSuccess)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("stclient: %s: %d of %d bytes: %w", op, sent, size, ErrShortFile)
			}
			return fmt.Errorf("stclient: %s: reading: %w", op, err)
		}
		t.lastChunk.Store(n)
		if err := c.sendOn(ch, stproto.FTMsgData, buf[:n], true); err != nil {
			return fmt.Errorf("stclient: %s: %w", op, err)
		}
		if err := t.awaitAck(ctx, ch); err != nil {
			return err
		}
		sent += n
	}
	if err := c.destroyChannel(ch, stproto.ReasonSuccess); err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	return nil
}

// awaitAck waits for the acknowledgement of the chunk just sent.
func (t *outgoingTransfer) awaitAck(ctx context.Context, ch *channel) error {
	const op = "send file"
	c := t.c
	tm := time.NewTimer(c.cfg.RequestTimeout)
	defer tm.Stop()
	var err error
	select {
	case <-t.acks:
		return nil
	case <-ch.gone:
		return &ServerError{Op: op, Reason: ch.closeReason(), Kind: ErrTransferCanceled}
	case <-c.done:
		return fmt.Errorf("stclient: %s: %w", op, c.err)
	case <-ctx.Done():
		err = fmt.Errorf("stclient: %s: %w", op, ctx.Err())
	case <-tm.C:
		err = fmt.Errorf("stclient: %s: no acknowledgement within %v: %w", op, c.cfg.RequestTimeout, ErrTimeout)
	}
	_ = c.destroyChannel(ch, stproto.ReasonSuccess)
	return err
}

// FileOffer is a file another user offers us. Exactly one of Accept and
// Decline should be called. Name comes from the peer and is not a safe
// file-system path.
type FileOffer struct {
	ID       uint32 // the transfer's channel id
	From     string // the sender's user id
	FromName string
	Name     string
	Message  string
	Size     int64

	c        *Client
	ch       *channel
	data     chan []byte
	answered atomic.Bool
	got      int64 // bytes handed to Accept; reader goroutine only
}

func (*FileOffer) opened(*channel) {}

func (o *FileOffer) received(ch *channel, msgType uint16, data []byte) {
	c := o.c
	if msgType != stproto.FTMsgData {
		return
	}
	c.mu.Lock()
	open := ch.state == chanOpen
	c.mu.Unlock()
	remaining := o.Size - o.got
	if !open || remaining <= 0 {
		return // before our accept, or beyond the declared size: dropped
	}
	if int64(len(data)) > remaining {
		data = data[:remaining]
	}
	select {
	case o.data <- data:
	default:
		c.log.Warn("sender ignored flow control", "channel", ch.id)
		c.rejectChannel(ch, stproto.ReasonBadData)
		return
	}
	o.got += int64(len(data))
	c.emit(FileProgressEvent{Transfer: ch.id, Peer: o.From, Name: o.Name, Incoming: true, Bytes: o.got, Size: o.Size})
}

func (*FileOffer) closed(*channel, stproto.ReasonError) {}

// onFileOffer handles the CHANNEL_CREATE of an incoming transfer.
func (c *Client) onFileOffer(b *stproto.ChannelCreate) {
	offer, err := stproto.UnmarshalFTOffer(b.Addtl)
	if err != nil {
		c.log.Warn("bad file offer", "channel", b.ID, "error", err)
		_ = c.writeDestroy(b.ID, stproto.ReasonFailure)
		return
	}
	if b.Creator == nil || b.Creator.UserID == "" {
		_ = c.writeDestroy(b.ID, stproto.ReasonRequestInvalid)
		return
	}
	o := &FileOffer{
		ID:       b.ID,
		From:     b.Creator.UserID,
		FromName: b.Creator.UserName,
		Name:     offer.Filename,
		Message:  offer.Message,
		Size:     int64(offer.Size),
		c:        c,
		data:     make(chan []byte, offerQueue),
	}
	o.ch = c.newIncoming(b, o)
	c.emit(FileOfferEvent{Offer: o})
}

// Accept takes the file and writes it to w as it arrives, acknowledging
// each chunk after it was written, so at most a couple of chunks are held
// in memory. It returns the number of bytes written once the sender
// closed the transfer. A write error or ctx ending cancels the transfer.
func (o *FileOffer) Accept(ctx context.Context, w io.Writer) (int64, error) {
	const op = "receive file"
	if !o.answered.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("stclient: %s: %w", op, ErrAlreadyAnswered)
	}
	c, ch := o.c, o.ch
	if err := c.accept(ch, nil); err != nil {
		return 0, fmt.Errorf("stclient: %s: %w", op, err)
	}
	var written int64
	idle := time.NewTimer(c.cfg.RequestTimeout)
	defer idle.Stop()
	for {
		select {
		case chunk := <-o.data:
			if _, err := w.Write(chunk); err != nil {
				_ = c.destroyChannel(ch, stproto.ReasonFileTransferRejected)
				return written, fmt.Errorf("stclient: %s: writing: %w", op, err)
			}
			written += int64(len(chunk))
			if err := c.sendOn(ch, stproto.FTMsgAck, nil, false); err != nil {
				return written, fmt.Errorf("stclient: %s: %w", op, err)
			}
			idle.Reset(c.cfg.RequestTimeout)
		case <-ch.gone:
			for drained := false; !drained; {
				select {
				case chunk := <-o.data:
					if _, err := w.Write(chunk); err != nil {
						return written, fmt.Errorf("stclient: %s: writing: %w", op, err)
					}
					written += int64(len(chunk))
				default:
					drained = true
				}
			}
			if written == o.Size {
				return written, nil
			}
			return written, &ServerError{Op: op, Reason: ch.closeReason(), Kind: ErrTransferCanceled}
		case <-ctx.Done():
			_ = c.destroyChannel(ch, stproto.ReasonFileTransferRejected)
			return written, fmt.Errorf("stclient: %s: %w", op, ctx.Err())
		case <-c.done:
			return written, fmt.Errorf("stclient: %s: %w", op, c.err)
		case <-idle.C:
			if written == o.Size {
				// Complete, but the sender never closed: close it ourselves.
				_ = c.destroyChannel(ch, stproto.ReasonSuccess)
				return written, nil
			}
			_ = c.destroyChannel(ch, stproto.ReasonFileTransferRejected)
			return written, fmt.Errorf("stclient: %s: no data within %v: %w", op, c.cfg.RequestTimeout, ErrTimeout)
		}
	}
}

// Decline refuses the file (reason 0x08000606, as libpurple sends).
func (o *FileOffer) Decline(ctx context.Context) error {
	if !o.answered.CompareAndSwap(false, true) {
		return fmt.Errorf("stclient: decline file: %w", ErrAlreadyAnswered)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: decline file: %w", err)
	}
	if err := o.c.destroyChannel(o.ch, stproto.ReasonFileTransferRejected); err != nil {
		return fmt.Errorf("stclient: decline file: %w", err)
	}
	return nil
}
