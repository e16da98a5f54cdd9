package gwclient

import (
	"context"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// keepalive sends a ping every KeepaliveInterval from login until the
// connection ends.
// A ping that is not answered within RequestTimeout ends the connection
// with ErrTimeout, so a dead or stalled server is noticed while idle.
func (c *Client) keepalive() {
	defer c.wg.Done()
	select {
	case <-c.done:
		return
	case <-c.loggedIn:
	}
	if c.cfg.KeepaliveInterval < 0 {
		return
	}
	t := time.NewTicker(c.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.Ping(context.Background()); err != nil {
				c.log.Debug("keepalive failed", "error", err)
			}
		}
	}
}

// Ping sends a ping request and waits for its answer.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, gwproto.CmdPing, nil)
	return err
}
