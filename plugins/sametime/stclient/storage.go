package stclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// storageService handles the storage channel (spec §5.4).
type storageService struct{ c *Client }

func (storageService) opened(*channel) {}

func (s storageService) received(_ *channel, msgType uint16, data []byte) {
	c := s.c
	switch msgType {
	case stproto.StorageMsgLoaded:
		r, err := stproto.UnmarshalStorageLoaded(data)
		if err != nil {
			c.log.Warn("bad storage reply", "error", err)
			return
		}
		c.mu.Lock()
		c.storage.complete(r.RequestID, r)
		c.mu.Unlock()
	case stproto.StorageMsgSaved:
		r, err := stproto.UnmarshalStorageSaved(data)
		if err != nil {
			c.log.Warn("bad storage reply", "error", err)
			return
		}
		c.mu.Lock()
		c.saves.complete(r.RequestID, r)
		c.mu.Unlock()
	}
}

func (storageService) closed(*channel, stproto.ReasonError) {}

// Load reads the value the server stores for key. A key without a value
// is an error matching ErrNotFound.
func (c *Client) Load(ctx context.Context, key uint32) ([]byte, error) {
	const op = "storage load"
	ch, err := c.openService(ctx, op, stproto.ServiceStorage)
	if err != nil {
		return nil, err
	}
	r, err := request(ctx, c, op, &c.storage, ch, stproto.StorageMsgLoad, func(id uint32) ([]byte, error) {
		return stproto.StorageLoad{RequestID: id, Keys: []uint32{key}}.Marshal()
	})
	if err != nil {
		return nil, err
	}
	if r.Result != stproto.ReasonSuccess {
		e := &ServerError{Op: op, Reason: r.Result}
		if r.Result == stproto.ReasonNoElement {
			e.Kind = ErrNotFound
		}
		return nil, e
	}
	for _, u := range r.Units {
		if u.Key == key {
			return u.Value, nil
		}
	}
	return nil, &ServerError{Op: op, Reason: stproto.ReasonNoElement, Kind: ErrNotFound}
}

// Save stores value under key on the server.
func (c *Client) Save(ctx context.Context, key uint32, value []byte) error {
	const op = "storage save"
	ch, err := c.openService(ctx, op, stproto.ServiceStorage)
	if err != nil {
		return err
	}
	r, err := request(ctx, c, op, &c.saves, ch, stproto.StorageMsgSave, func(id uint32) ([]byte, error) {
		return stproto.StorageSave{RequestID: id, Units: []stproto.StorageUnit{{Key: key, Value: value}}}.Marshal()
	})
	if err != nil {
		return err
	}
	if r.Result != stproto.ReasonSuccess {
		return &ServerError{Op: op, Reason: r.Result}
	}
	return nil
}

// LoadBuddyList loads the stored buddy list (storage key 0). A server
// that stores none yields an empty list.
func (c *Client) LoadBuddyList(ctx context.Context) (stproto.BuddyList, error) {
	v, err := c.Load(ctx, stproto.StorageKeyBuddyList)
	if errors.Is(err, ErrNotFound) {
		return stproto.BuddyList{}, nil
	}
	if err != nil {
		return stproto.BuddyList{}, err
	}
	text, err := stproto.UnmarshalStringValue(v)
	if err != nil {
		return stproto.BuddyList{}, fmt.Errorf("stclient: buddy list: %w", err)
	}
	l, err := stproto.ParseBuddyList(text)
	if err != nil {
		return stproto.BuddyList{}, fmt.Errorf("stclient: buddy list: %w", err)
	}
	return l, nil
}

// SaveBuddyList stores the buddy list in the text format libpurple uses.
func (c *Client) SaveBuddyList(ctx context.Context, l stproto.BuddyList) error {
	v, err := stproto.StringValue(l.String())
	if err != nil {
		return fmt.Errorf("stclient: buddy list: %w", err)
	}
	return c.Save(ctx, stproto.StorageKeyBuddyList, v)
}
