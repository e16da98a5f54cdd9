package stclient

import (
	"context"
	"fmt"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// serviceChannel returns the channel of a login-time service (aware,
// resolve, storage), opening a new one if there is none — at login, and
// again after the server closed it (spec §5.4: meanwhile restarts such a
// service when the server announces it).
func (c *Client) serviceChannel(svc stproto.ServiceID) (*channel, error) {
	c.mu.Lock()
	if ch := c.services[svc]; ch != nil {
		c.mu.Unlock()
		return ch, nil
	}
	spec := channelSpec{service: svc, handler: c.serviceHandler(svc)}
	ch := c.newChannelLocked(spec)
	c.services[svc] = ch
	c.mu.Unlock()
	return ch, c.writeCreate(ch, spec)
}

func (c *Client) serviceHandler(svc stproto.ServiceID) channelHandler {
	switch svc {
	case stproto.ServiceAware:
		return awareService{c}
	case stproto.ServiceStorage:
		return storageService{c}
	default:
		return resolveService{c}
	}
}

// openService returns the open channel of svc, waiting for it if needed.
func (c *Client) openService(ctx context.Context, op string, svc stproto.ServiceID) (*channel, error) {
	ch, err := c.serviceChannel(svc)
	if err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := c.waitOpen(ctx, op, ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// sendService sends one message on the channel of svc.
func (c *Client) sendService(ctx context.Context, op string, svc stproto.ServiceID, msgType uint16, data []byte) error {
	ch, err := c.openService(ctx, op, svc)
	if err != nil {
		return err
	}
	if err := c.sendOn(ch, msgType, data, false); err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	return nil
}
