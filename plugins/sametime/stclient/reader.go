package stclient

import (
	"errors"
	"fmt"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// readLoop reads and dispatches server messages until the connection
// ends. It is the only goroutine that emits events.
func (c *Client) readLoop() {
	defer c.finishReader()
	for {
		b, err := c.fr.ReadFrame()
		if err != nil {
			switch werr := c.writeErr.Load(); {
			case werr != nil:
				c.fail(*werr)
			case errors.Is(err, stproto.ErrFrameTooLarge):
				c.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
			default:
				c.fail(connLost(err))
			}
			return
		}
		m, err := stproto.Unmarshal(b)
		if err != nil {
			c.log.Warn("dropping undecodable message", "error", err)
			continue
		}
		c.dispatch(m)
	}
}

// finishReader reports the end of the session on the event channel and
// closes it.
func (c *Client) finishReader() {
	c.log.Debug("session ended", "error", c.err)
	select {
	case c.events <- DisconnectEvent{Err: c.err}:
	default:
	}
	close(c.events)
	close(c.readerDone)
}

// dispatch handles one message from the server.
func (c *Client) dispatch(m *stproto.Message) {
	switch b := m.Body.(type) {
	case *stproto.ChannelCreate:
		c.onCreate(b)
	case *stproto.ChannelAccept:
		c.onAccept(m.Channel, b)
	case *stproto.ChannelSend:
		c.onSend(m, b)
	case *stproto.ChannelDestroy:
		if m.Channel == stproto.MasterChannel {
			c.onSessionEnd(b.Reason)
		} else {
			c.onDestroy(m.Channel, b.Reason)
		}
	case *stproto.SetUserStatus:
		c.mu.Lock()
		c.status = b.Status
		c.mu.Unlock()
		c.emit(StatusEvent{Status: b.Status})
	case *stproto.Admin:
		c.emit(AdminEvent{Text: b.Text})
	case *stproto.Announce:
		ev := AnnouncementEvent{Text: b.Text, MayReply: b.MayReply}
		if b.Sender != nil {
			ev.From = b.Sender.UserID
		}
		c.emit(ev)
	case *stproto.SenseService:
		// Service channels are reopened on their next use.
		c.log.Debug("server announced service", "service", b.Service)
	default:
		c.log.Debug("ignoring message", "type", m.Type())
	}
}

// onSessionEnd handles CHANNEL_DESTROY of the master channel: like
// meanwhile, echo it and close (spec §3.6).
func (c *Client) onSessionEnd(reason stproto.ReasonError) {
	c.log.Info("session ended by server", "reason", uint32(reason))
	c.shutdown(sessionError("session", reason), appendDestroy(nil, stproto.MasterChannel, reason))
}
