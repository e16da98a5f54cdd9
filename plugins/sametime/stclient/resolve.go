package stclient

import (
	"context"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// resolveService handles the resolve channel (spec §5.3).
type resolveService struct{ c *Client }

func (resolveService) opened(*channel) {}

func (s resolveService) received(_ *channel, msgType uint16, data []byte) {
	if msgType != stproto.ResolveMsgType {
		return
	}
	r, err := stproto.UnmarshalResolveResponse(data)
	if err != nil {
		s.c.log.Warn("bad resolve reply", "error", err)
		return
	}
	s.c.mu.Lock()
	s.c.resolves.complete(r.SearchID, r)
	s.c.mu.Unlock()
}

func (resolveService) closed(*channel, stproto.ReasonError) {}

// Resolve looks names up in the server's directory. flags combine
// stproto.ResolveUnique, ResolveFirst, ResolveAllDirs, ResolveCheckUsers
// and ResolveCheckGroups (libpurple uses ResolveFirst|ResolveCheckUsers to
// add a buddy). The response's Code says whether the lookup was complete;
// each result lists the matches of one query.
func (c *Client) Resolve(ctx context.Context, flags uint32, queries ...string) (stproto.ResolveResponse, error) {
	const op = "resolve"
	ch, err := c.openService(ctx, op, stproto.ServiceResolve)
	if err != nil {
		return stproto.ResolveResponse{}, err
	}
	return request(ctx, c, op, &c.resolves, ch, stproto.ResolveMsgType, func(id uint32) ([]byte, error) {
		return stproto.ResolveRequest{SearchID: id, Queries: queries, Flags: flags}.Marshal()
	})
}
