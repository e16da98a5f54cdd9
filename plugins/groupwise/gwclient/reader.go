package gwclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// readLoop is the only reader of the connection. It hands responses to the
// waiting requests and queues events; it never blocks on the consumer.
func (c *Client) readLoop() {
	c.read()
	end := c.readerEnded()
	c.wg.Done()
	if end != nil {
		end()
	}
}

func (c *Client) read() {
	r := gwproto.NewReader(c.conn, gwproto.Limits{})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		if m.Response != nil {
			if m.Response.Status == gwproto.StatusRedirect {
				c.fail(fmt.Errorf("%w: server redirect (status 301)", ErrProtocol))
				return
			}
			c.deliverResponse(m.Response)
			continue
		}
		ev, terminal := c.applyEvent(m.Event)
		if ev == nil {
			c.fail(terminal)
			return
		}
		if !c.queueEvent(ev) {
			c.fail(c.overflowError())
			return
		}
		if terminal != nil {
			c.fail(terminal)
			return
		}
	}
}

func (c *Client) readFailed(err error) {
	select {
	case <-c.done: // the connection was closed on purpose
		return
	default:
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		c.fail(fmt.Errorf("%w: server closed the connection: %w", ErrConnectionLost, err))
	case isNetworkError(err):
		c.fail(fmt.Errorf("%w: reading: %w", ErrConnectionLost, err))
	default:
		// A parse error. After an unknown event type in particular the
		// stream cannot be resynchronised: its payload length is unknown.
		c.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
	}
}

// isNetworkError reports whether err comes from the TCP or TLS layer rather
// than from parsing.
func isNetworkError(err error) bool {
	var ne net.Error
	var alert tls.AlertError
	var rh tls.RecordHeaderError
	return errors.As(err, &ne) || errors.As(err, &alert) || errors.As(err, &rh) || errors.Is(err, net.ErrClosed)
}

// applyEvent updates the client's state for e (conferences, presence) and
// returns the typed event plus, for 114/115, the error that ends the
// connection.
func (c *Client) applyEvent(e *gwproto.Event) (Event, error) {
	h := Header{Source: e.Source, Received: time.Now()}
	switch e.Type {
	case gwproto.EventInvalidRecipient:
		return InvalidRecipient{h}, nil
	case gwproto.EventUndeliverableStatus:
		return Undeliverable{Header: h, GUID: e.GUID}, nil
	case gwproto.EventStatusChange:
		c.setPresence(e.Source, e.Status, e.Text)
		return StatusChanged{Header: h, Status: e.Status, Text: e.Text}, nil
	case gwproto.EventContactAdd:
		return ContactAdded{h}, nil
	case gwproto.EventConferenceClosed:
		c.dropConference(e.GUID)
		return ConferenceClosed{Header: h, GUID: e.GUID}, nil
	case gwproto.EventConferenceJoined:
		c.addParticipant(e.GUID, e.Source, false)
		return ConferenceJoined{Header: h, GUID: e.GUID, Flags: e.Flags}, nil
	case gwproto.EventConferenceLeft:
		c.removeParticipant(e.GUID, e.Source)
		return ConferenceLeft{Header: h, GUID: e.GUID, Flags: e.Flags}, nil
	case gwproto.EventReceiveMessage, gwproto.EventReceiveAutoReply:
		// A message on a new GUID opens a conference with its sender; a
		// reply then goes to that GUID (spec §5.1).
		c.addParticipant(e.GUID, e.Source, true)
		text := e.Text
		if e.Type == gwproto.EventReceiveMessage {
			plain, err := gwproto.RTFStrip(e.Text)
			if err != nil {
				c.log.Warn("message body is not valid RTF; delivering it unconverted", "source", e.Source, "error", err)
			} else {
				text = plain
			}
		}
		return MessageReceived{Header: h, GUID: e.GUID, Flags: e.Flags, Text: text,
			AutoReply: e.Type == gwproto.EventReceiveAutoReply}, nil
	case gwproto.EventReceiveFile:
		return FileOffered{h}, nil
	case gwproto.EventUserTyping, gwproto.EventUserNotTyping:
		return Typing{Header: h, GUID: e.GUID, Typing: e.Type == gwproto.EventUserTyping}, nil
	case gwproto.EventUserDisconnect:
		return ConnectedElsewhere{h}, ErrConnectedElsewhere
	case gwproto.EventServerDisconnect:
		return ServerDisconnected{h}, ErrServerDisconnect
	case gwproto.EventConferenceInvite:
		c.ensureConference(e.GUID)
		return Invited{Header: h, GUID: e.GUID, Message: e.Text}, nil
	case gwproto.EventConferenceInviteNotify:
		return ParticipantInvited{Header: h, GUID: e.GUID}, nil
	case gwproto.EventConferenceReject:
		return InviteRejected{Header: h, GUID: e.GUID}, nil
	}
	// gwproto only returns event types it can parse, all handled above.
	return nil, fmt.Errorf("%w: event %s", ErrProtocol, e.Type)
}
