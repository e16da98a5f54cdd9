package gwclient

import (
	"context"
	"errors"
	"fmt"
)

// ErrDeliveryChosen is returned by Deliver when the client's events already
// go to the Events channel or to another Handler.
var ErrDeliveryChosen = errors.New("gwclient: event delivery already chosen")

// Handler receives a client's events in place of the Events channel; see
// Deliver.
type Handler struct {
	// Event is called for each event in arrival order, never for two
	// events at once. It may make requests on the client.
	Event func(Event)
	// End is called once, after the last event, with Err's value: the
	// reason the connection ended. It may call Close. Nil means no call.
	End func(error)
}

// retainedQueue is how many queued events' worth of storage an idle
// client keeps; a larger burst's storage is released once it is delivered.
const retainedQueue = 8

type deliveryMode uint8

const (
	deliveryUnchosen deliveryMode = iota // events wait for Events or Deliver
	deliveryChannel
	deliveryHandler
)

// Events returns the channel of server pushes, in arrival order. Events
// whose sender is not yet known are delivered after the client has fetched
// the sender's details. The client buffers up to Config.EventBuffer events
// for a slow reader; one more closes the connection with ErrEventOverflow
// (no event is ever dropped silently). The channel is closed after the
// connection ends and every buffered event has been received, or at once
// by Close.
//
// Events and Deliver are the two ways to receive events: the first call of
// either chooses. After Deliver, the channel carries no events and is
// closed when the connection has ended.
func (c *Client) Events() <-chan Event {
	c.evMu.Lock()
	if c.mode == deliveryUnchosen {
		c.mode = deliveryChannel
		c.startDeliveryLocked()
	}
	c.evMu.Unlock()
	return c.events
}

// Deliver has the client call h for its events instead of sending them on
// Events: no goroutine waits on the caller's side, and the client runs
// one only while events are being delivered. Events received before
// Deliver are handed to h first. Within Config.EventBuffer events a slow
// handler holds up only the events behind it; beyond, the connection ends
// with ErrEventOverflow. It returns ErrDeliveryChosen after Events or an
// earlier Deliver. Event must not call Close (Close waits for the
// goroutine that runs it); End may. After Close, h.End is called at once.
func (c *Client) Deliver(h Handler) error {
	c.evMu.Lock()
	if c.mode != deliveryUnchosen {
		c.evMu.Unlock()
		return ErrDeliveryChosen
	}
	c.mode, c.handler = deliveryHandler, h
	ended := c.finished // Close came first
	c.startDeliveryLocked()
	c.evMu.Unlock()
	if ended && h.End != nil {
		h.End(c.err)
	}
	return nil
}

// queueEvent adds ev to the delivery queue, or reports false when
// EventBuffer events are already waiting.
func (c *Client) queueEvent(ev Event) bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if len(c.queue)-c.head >= c.cfg.EventBuffer {
		return false
	}
	c.queue = append(c.queue, ev)
	c.startDeliveryLocked()
	return true
}

// overflowError is the connection's end when queueEvent refuses an event.
func (c *Client) overflowError() error {
	return fmt.Errorf("%w: %d events not yet received", ErrEventOverflow, c.cfg.EventBuffer)
}

// readerEnded records that no more events will be queued. The reader
// calls it as it returns; it finishes delivery itself when a consumer has
// been chosen and nothing is left to deliver, and returns the handler's
// End call, which the reader makes once it no longer counts in wg.
func (c *Client) readerEnded() (end func()) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.readerDone = true
	if c.mode == deliveryUnchosen || c.delivering {
		return nil
	}
	return c.finishLocked()
}

// stopDelivery is Close's part: queued events are dropped and delivery
// ends as soon as no event is being handed over. It returns the handler's
// End call when Close finished delivery itself.
func (c *Client) stopDelivery() (end func()) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.closing = true
	c.queue, c.head = nil, 0
	if c.delivering {
		return nil
	}
	return c.finishLocked()
}

// finishLocked closes Events, once, and returns the call of the handler's
// End (nil if there is none), to be made without evMu held. The caller
// holds evMu and has checked that no delivery goroutine is running.
func (c *Client) finishLocked() (end func()) {
	if c.finished {
		return nil
	}
	c.finished = true
	close(c.events)
	if c.mode != deliveryHandler || c.handler.End == nil {
		return nil
	}
	h := c.handler.End
	return func() {
		<-c.done // set when the reader or Close ended the connection
		h(c.err)
	}
}

// startDeliveryLocked starts the delivery goroutine if a consumer has been
// chosen, there is something to deliver and none is running. The caller
// holds evMu. Close sets closing before it waits for the goroutines, so no
// goroutine is added to wg after that.
func (c *Client) startDeliveryLocked() {
	if c.mode == deliveryUnchosen || c.delivering || c.finished || c.closing {
		return
	}
	if c.head == len(c.queue) && !c.readerDone {
		return
	}
	c.delivering = true
	c.wg.Add(1)
	go c.deliver()
}

// deliver hands queued events to the consumer in order, fetching the
// details of unknown senders first, and returns when the queue is empty.
// After the last event of an ended connection it finishes delivery; the
// handler's End runs after this goroutine has left wg, so that End may
// call Close.
func (c *Client) deliver() {
	for {
		ev, end, ok := c.nextEvent()
		if !ok {
			c.wg.Done()
			if end != nil {
				end()
			}
			return
		}
		if needsSender(ev) {
			c.learnUser(ev.EventHeader().Source)
		}
		if c.mode == deliveryHandler {
			c.handler.Event(ev)
			continue
		}
		select {
		case c.events <- ev:
		case <-c.quit:
		}
	}
}

// nextEvent takes the next event off the queue. When there is none it
// ends this run of deliver (ok false), finishing delivery if the
// connection is over.
func (c *Client) nextEvent() (ev Event, end func(), ok bool) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.head < len(c.queue) && !c.closing {
		ev = c.queue[c.head]
		c.queue[c.head] = nil
		c.head++
		if c.head == len(c.queue) {
			if cap(c.queue) > retainedQueue {
				c.queue = nil
			} else {
				c.queue = c.queue[:0]
			}
			c.head = 0
		}
		return ev, nil, true
	}
	c.delivering = false
	if c.readerDone || c.closing {
		end = c.finishLocked()
	}
	return nil, end, false
}

// needsSender reports whether ev should only be delivered once the client
// knows its source's user record (spec §5.0).
func needsSender(ev Event) bool {
	switch ev.(type) {
	case MessageReceived, Invited, ParticipantInvited, ConferenceJoined:
		return true
	}
	return false
}

// learnUser fetches the record of dn with getdetails unless it is cached.
// Failures are logged; the event is delivered anyway.
func (c *Client) learnUser(dn string) {
	if _, ok := c.User(dn); ok || dn == "" {
		return
	}
	if _, err := c.GetDetails(context.Background(), dn); err != nil {
		c.log.Debug("cannot fetch details of event source", "source", dn, "error", err)
	}
}
