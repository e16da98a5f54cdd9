package gwclient

import (
	"context"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// The keepalive sends a ping KeepaliveInterval after login and then
// KeepaliveInterval after each answer, until the connection ends. A ping
// that is not answered within RequestTimeout ends the connection with
// ErrTimeout, so a dead or stalled server is noticed while idle. It runs
// on the runtime's timers: an idle client has no goroutine waiting for
// its next ping.

// startKeepalive arms the first ping; Login calls it.
func (c *Client) startKeepalive() {
	if c.cfg.KeepaliveInterval < 0 {
		return
	}
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.closing {
		return
	}
	c.keepalive = time.AfterFunc(c.cfg.KeepaliveInterval, c.keepalivePing)
}

// keepalivePing runs on its own goroutine when the timer fires.
func (c *Client) keepalivePing() {
	c.evMu.Lock()
	if c.closing {
		c.evMu.Unlock()
		return
	}
	c.wg.Add(1)
	c.evMu.Unlock()
	defer c.wg.Done()
	if err := c.Ping(context.Background()); err != nil {
		c.log.Debug("keepalive failed", "error", err)
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.evMu.Lock()
	if !c.closing {
		c.keepalive.Reset(c.cfg.KeepaliveInterval)
	}
	c.evMu.Unlock()
}

// stopKeepalive disarms the keepalive when the connection ends.
func (c *Client) stopKeepalive() {
	c.evMu.Lock()
	if c.keepalive != nil {
		c.keepalive.Stop()
	}
	c.evMu.Unlock()
}

// Ping sends a ping request and waits for its answer.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, gwproto.CmdPing, nil)
	return err
}
