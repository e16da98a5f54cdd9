package stclient

import (
	"context"
	"fmt"
	"sort"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// watchedAttributes are the attribute keys of others we ask to hear
// about, as libpurple does (spec §6.1).
var watchedAttributes = []uint32{
	stproto.AttrAVPrefs, stproto.AttrMicrophone, stproto.AttrSpeakers,
	stproto.AttrVideoCamera, stproto.AttrFileTransfer,
}

// awareState is the awareness subscription; guarded by Client.mu.
type awareState struct {
	watched map[string]bool
	attrs   map[string]map[uint32][]byte
}

func newAwareState() awareState {
	return awareState{watched: make(map[string]bool), attrs: make(map[string]map[uint32][]byte)}
}

func (a *awareState) watchList() []string {
	users := make([]string, 0, len(a.watched))
	for u := range a.watched {
		users = append(users, u)
	}
	sort.Strings(users)
	return users
}

// awareService handles the awareness channel (spec §5.2).
type awareService struct{ c *Client }

// opened subscribes to attributes, publishes that we receive files and
// (re)subscribes the watch list.
func (a awareService) opened(ch *channel) {
	c := a.c
	c.mu.Lock()
	users := c.aware.watchList()
	c.mu.Unlock()
	if data, err := (stproto.AttrWatch{Keys: watchedAttributes}).Marshal(); err == nil {
		_ = c.sendOn(ch, stproto.AwareMsgOptWatch, data, false)
	}
	if data, err := (stproto.AttrDoSet{Key: stproto.AttrFileTransfer, Value: stproto.AttrTrue}).Marshal(); err == nil {
		_ = c.sendOn(ch, stproto.AwareMsgOptDoSet, data, false)
	}
	if len(users) > 0 {
		_ = c.sendAwareList(ch, stproto.AwareMsgAdd, users)
	}
}

func (a awareService) received(_ *channel, msgType uint16, data []byte) {
	c := a.c
	switch msgType {
	case stproto.AwareMsgSnapshot:
		s, err := stproto.UnmarshalAwareSnapshots(data)
		if err != nil {
			c.log.Warn("bad awareness snapshot", "error", err)
			return
		}
		for i := range s.Snapshots {
			c.applySnapshot(&s.Snapshots[i])
		}
	case stproto.AwareMsgUpdate:
		s, err := stproto.UnmarshalAwareUpdate(data)
		if err != nil {
			c.log.Warn("bad awareness update", "error", err)
			return
		}
		c.applySnapshot(&s)
	case stproto.AwareMsgOptGotSet:
		s, err := stproto.UnmarshalAttrGotSet(data)
		if err != nil {
			c.log.Warn("bad attribute update", "error", err)
			return
		}
		c.applyAttribute(s.Who, s.Key, s.Value, true)
	case stproto.AwareMsgOptGotUnset:
		s, err := stproto.UnmarshalAttrGotUnset(data)
		if err != nil {
			c.log.Warn("bad attribute removal", "error", err)
			return
		}
		c.applyAttribute(s.Who, s.Key, nil, false)
	}
}

func (awareService) closed(*channel, stproto.ReasonError) {}

// isWatched reports whether id is a user we subscribed to; meanwhile
// compares type, user and community exactly.
func (c *Client) isWatched(id stproto.AwareIDBlock) bool {
	if id.Type != stproto.AwareUser || id.Community != "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aware.watched[id.User]
}

func (c *Client) applySnapshot(s *stproto.AwareSnapshot) {
	if !c.isWatched(s.ID) {
		return
	}
	ev := PresenceEvent{User: s.ID.User, Online: s.Online, Status: stproto.StatusOffline}
	if s.Online {
		ev.Name, ev.Status, ev.Message = s.Name, s.Status.Status, s.Status.Desc
	} else {
		c.mu.Lock()
		delete(c.aware.attrs, s.ID.User)
		c.mu.Unlock()
	}
	c.emit(ev)
}

func (c *Client) applyAttribute(who stproto.AwareIDBlock, key uint32, value []byte, set bool) {
	if !c.isWatched(who) {
		return
	}
	value = append([]byte(nil), value...)
	c.mu.Lock()
	attrs := c.aware.attrs[who.User]
	if set {
		if attrs == nil {
			attrs = make(map[uint32][]byte)
			c.aware.attrs[who.User] = attrs
		}
		attrs[key] = value
	} else {
		delete(attrs, key)
	}
	c.mu.Unlock()
	c.emit(AttributeEvent{User: who.User, Key: key, Value: value, Set: set})
}

func (c *Client) sendAwareList(ch *channel, msgType uint16, users []string) error {
	l := stproto.AwareIDList{IDs: make([]stproto.AwareIDBlock, len(users))}
	for i, u := range users {
		l.IDs[i] = stproto.AwareIDBlock{Type: stproto.AwareUser, User: u}
	}
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	return c.sendOn(ch, msgType, data, false)
}

// Watch subscribes to the presence of users. The server answers with a
// PresenceEvent per user (offline users included) and sends further
// PresenceEvents and AttributeEvents as they change.
func (c *Client) Watch(ctx context.Context, users ...string) error {
	ch, err := c.serviceChannel(stproto.ServiceAware)
	if err != nil {
		return fmt.Errorf("stclient: watch: %w", err)
	}
	c.mu.Lock()
	var fresh []string
	for _, u := range users {
		if u != "" && !c.aware.watched[u] {
			c.aware.watched[u] = true
			fresh = append(fresh, u)
		}
	}
	open := ch.state == chanOpen
	c.mu.Unlock()
	if err := c.waitOpen(ctx, "watch", ch); err != nil {
		return err
	}
	// If the channel was still opening, its opened hook subscribes the
	// whole watch list, fresh users included.
	if open && len(fresh) > 0 {
		if err := c.sendAwareList(ch, stproto.AwareMsgAdd, fresh); err != nil {
			return fmt.Errorf("stclient: watch: %w", err)
		}
	}
	return nil
}

// Unwatch ends the presence subscription of users.
func (c *Client) Unwatch(ctx context.Context, users ...string) error {
	c.mu.Lock()
	var gone []string
	for _, u := range users {
		if c.aware.watched[u] {
			delete(c.aware.watched, u)
			delete(c.aware.attrs, u)
			gone = append(gone, u)
		}
	}
	ch := c.services[stproto.ServiceAware]
	open := ch != nil && ch.state == chanOpen
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: unwatch: %w", err)
	}
	if !open || len(gone) == 0 {
		return nil
	}
	if err := c.sendAwareList(ch, stproto.AwareMsgRemove, gone); err != nil {
		return fmt.Errorf("stclient: unwatch: %w", err)
	}
	return nil
}

// SupportsFileTransfer reports whether a watched user announced that it
// can receive files (attribute 0x06); libpurple only sends files to such
// users.
func (c *Client) SupportsFileTransfer(user string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stproto.AttrBool(c.aware.attrs[user][stproto.AttrFileTransfer])
}

// SetStatus publishes our presence state and status message.
func (c *Client) SetStatus(ctx context.Context, status stproto.StatusCode, message string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: set status: %w", err)
	}
	st := stproto.UserStatus{Status: status, Desc: message}
	c.mu.Lock()
	c.status = st
	c.mu.Unlock()
	if err := c.writeMessage(&stproto.Message{Body: &stproto.SetUserStatus{Status: st}}); err != nil {
		return fmt.Errorf("stclient: set status: %w", err)
	}
	return nil
}

// SetAttribute publishes one of our awareness attributes (for example
// stproto.AttrFileTransfer with stproto.AttrTrue).
func (c *Client) SetAttribute(ctx context.Context, key uint32, value []byte) error {
	data, err := (stproto.AttrDoSet{Key: key, Value: value}).Marshal()
	if err != nil {
		return fmt.Errorf("stclient: set attribute: %w", err)
	}
	return c.sendService(ctx, "set attribute", stproto.ServiceAware, stproto.AwareMsgOptDoSet, data)
}

// ClearAttribute withdraws one of our awareness attributes.
func (c *Client) ClearAttribute(ctx context.Context, key uint32) error {
	data, err := (stproto.AttrDoUnset{Key: key}).Marshal()
	if err != nil {
		return fmt.Errorf("stclient: clear attribute: %w", err)
	}
	return c.sendService(ctx, "clear attribute", stproto.ServiceAware, stproto.AwareMsgOptDoUnset, data)
}
