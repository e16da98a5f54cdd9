package sametime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
)

const (
	// imPrefix starts the conversation id of a 1:1 conversation; the
	// peer's user id follows.
	imPrefix = "im:"
	// broadcastConversation is the conversation id of administrator
	// broadcasts, which have no sender.
	broadcastConversation = "broadcast"
	// initialPresenceWait bounds how long OpenSession waits for the
	// server's presence of the buddies; later answers arrive as events.
	initialPresenceWait = 3 * time.Second
	// maxPendingOffers bounds the unanswered incoming file offers of a
	// session; the oldest is declined to make room.
	maxPendingOffers = 64
	// progressStep is how many bytes an incoming transfer moves between
	// two progress events.
	progressStep = 64 << 10
)

// session is one user's Sametime login.
type session struct {
	id        string
	client    *stclient.Client
	self      stproto.LoginInfo
	events    sdk.EventSink
	limit     uint64 // the configured file size limit
	log       hclog.Logger
	onEnd     func(*session)
	transfers *atomic.Uint64 // the backend's transfer counter

	ended bool // guarded by Backend.mu

	edit sync.Mutex // serialises buddy-list edits (copy, modify, save)

	mu         sync.Mutex // guards the fields below
	status     sdk.Presence
	buddies    stproto.BuddyList
	presence   map[string]presence            // by user id
	confs      map[string]*conference         // by conference name
	offers     map[string]*stclient.FileOffer // unanswered, by transfer id
	offerOrder []string                       // transfer ids of offers, oldest first
	incoming   map[uint32]*transferProgress   // accepted or pending, by channel id
	sent       sentKeys

	changed chan struct{}  // signalled when presence arrives
	helpers sync.WaitGroup // conference joins started by run
	done    chan struct{}  // closed when run returns
}

// presence is what the server told about a watched user.
type presence struct {
	known  bool
	status sdk.PresenceStatus
	note   string
	name   string
	files  bool // the user's client receives files
}

// transferProgress follows an incoming transfer for progress events.
type transferProgress struct {
	id       string
	reported int64
}

func newSession(id string, client *stclient.Client, events sdk.EventSink, limit uint64, logger hclog.Logger,
	onEnd func(*session), transfers *atomic.Uint64) *session {
	return &session{
		id: id, client: client, self: client.Self(), events: events, limit: limit, log: logger,
		onEnd: onEnd, transfers: transfers,
		status:   sdk.Presence{Status: sdk.StatusAvailable},
		presence: map[string]presence{},
		confs:    map[string]*conference{},
		offers:   map[string]*stclient.FileOffer{},
		incoming: map[uint32]*transferProgress{},
		sent:     newSentKeys(dedupeWindow),
		changed:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

func (s *session) emit(kind sdk.EventKind) {
	s.events.Emit(sdk.Event{SessionID: s.id, Time: time.Now(), Kind: kind})
}

// start loads the buddy list and watches the buddies.
func (s *session) start(ctx context.Context) (sdk.Snapshot, error) {
	list, err := s.client.LoadBuddyList(ctx)
	if err != nil {
		return sdk.Snapshot{}, requestError("load buddy list", err, s.limit)
	}
	s.mu.Lock()
	s.buddies = list
	users := buddyIDs(list)
	s.mu.Unlock()
	if len(users) > 0 {
		if err := s.client.Watch(ctx, users...); err != nil {
			return sdk.Snapshot{}, requestError("watch buddies", err, s.limit)
		}
		s.awaitPresence(ctx, users)
	}
	return s.snapshot(), nil
}

// awaitPresence waits until the server told the presence of every user,
// for at most initialPresenceWait.
func (s *session) awaitPresence(ctx context.Context, users []string) {
	t := time.NewTimer(initialPresenceWait)
	defer t.Stop()
	for !s.presenceKnown(users) {
		select {
		case <-s.changed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *session) presenceKnown(users []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		if !s.presence[u].known {
			return false
		}
	}
	return true
}

// close logs off and waits for the session's goroutines.
func (s *session) close() {
	if err := s.client.Close(); err != nil {
		s.log.Debug("logoff", "error", err)
	}
	<-s.done
	s.helpers.Wait()
}

// run translates the client's events until the session ends. When the
// server ended it, the session is forgotten and SessionEndedEvent emitted.
func (s *session) run() {
	defer close(s.done)
	for ev := range s.client.Events() {
		s.handle(ev)
	}
	err := s.client.Err()
	if errors.Is(err, stclient.ErrClosed) {
		return
	}
	s.onEnd(s)
	reason := endReason(err)
	s.log.Info("server ended the session", "reason", reason, "error", err)
	s.emit(sdk.SessionEndedEvent{Reason: reason, Message: endMessage(err)})
}

// endMessage is the human-readable cause of a session's end.
func endMessage(err error) string {
	var se *stclient.ServerError
	if errors.As(err, &se) {
		return se.Reason.Error()
	}
	if errors.Is(err, stclient.ErrTimeout) {
		return "the Sametime server stopped answering"
	}
	return "the connection to the Sametime server was lost"
}

func (s *session) handle(ev stclient.Event) {
	switch e := ev.(type) {
	case stclient.MessageEvent:
		s.emit(sdk.MessageEvent{ConversationID: imPrefix + e.From, From: e.From, Text: plainText(e)})
	case stclient.AnnouncementEvent:
		s.emit(sdk.MessageEvent{ConversationID: imPrefix + e.From, From: e.From, Text: e.Text})
	case stclient.AdminEvent:
		s.emit(sdk.MessageEvent{ConversationID: broadcastConversation, Text: e.Text})
	case stclient.TypingEvent:
		s.emit(sdk.TypingEvent{ConversationID: imPrefix + e.From, From: e.From, Typing: e.Typing})
	case stclient.PresenceEvent:
		s.onPresence(e)
	case stclient.AttributeEvent:
		s.onAttribute(e)
	case stclient.StatusEvent:
		s.mu.Lock()
		s.status = sdk.Presence{Status: statusOf(true, e.Status.Status), Note: e.Status.Desc}
		s.mu.Unlock()
	case stclient.FileOfferEvent:
		s.onFileOffer(e.Offer)
	case stclient.FileProgressEvent:
		s.onFileProgress(e)
	case stclient.ConferenceInviteEvent:
		s.onConferenceInvite(e.Invitation)
	case stclient.ConferenceMemberEvent:
		if s.isSelf(e.Member) {
			return
		}
		change := sdk.ConversationLeft
		if e.Joined {
			change = sdk.ConversationJoined
		}
		s.emit(sdk.ConversationEvent{Change: change, ConversationID: e.Conference.Name(), UserID: e.Member.UserID})
	case stclient.ConferenceMessageEvent:
		if !s.isSelf(e.From) { // the server echoes our own texts
			s.emit(sdk.MessageEvent{ConversationID: e.Conference.Name(), From: e.From.UserID, Text: e.Text})
		}
	case stclient.ConferenceTypingEvent:
		if !s.isSelf(e.From) {
			s.emit(sdk.TypingEvent{ConversationID: e.Conference.Name(), From: e.From.UserID, Typing: e.Typing})
		}
	case stclient.ConferenceClosedEvent:
		name := e.Conference.Name()
		s.mu.Lock()
		if c := s.confs[name]; c != nil && c.cf == e.Conference {
			delete(s.confs, name)
		}
		s.mu.Unlock()
		s.emit(sdk.ConversationEvent{Change: sdk.ConversationLeft, ConversationID: name, UserID: s.self.UserID})
	}
}

// isSelf reports whether a conference member is this login.
func (s *session) isSelf(m stclient.Member) bool {
	if m.LoginID != "" && s.self.LoginID != "" {
		return m.LoginID == s.self.LoginID
	}
	return strings.EqualFold(m.UserID, s.self.UserID)
}

func (s *session) signalPresence() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *session) onPresence(e stclient.PresenceEvent) {
	status := statusOf(e.Online, e.Status)
	s.mu.Lock()
	p := s.presence[e.User]
	changed := !p.known || p.status != status || p.note != e.Message
	p.known, p.status, p.note = true, status, e.Message
	if e.Name != "" {
		p.name = e.Name
	}
	if !e.Online {
		p.files = false
	}
	s.presence[e.User] = p
	s.mu.Unlock()
	s.signalPresence()
	if changed {
		s.emit(sdk.PresenceEvent{UserID: e.User, Status: status, Note: e.Message})
	}
}

// onAttribute follows whether a buddy's client receives files and tells
// the device with a contact update.
func (s *session) onAttribute(e stclient.AttributeEvent) {
	if e.Key != stproto.AttrFileTransfer {
		return
	}
	s.mu.Lock()
	p := s.presence[e.User]
	changed := p.files != e.Bool()
	p.files = e.Bool()
	s.presence[e.User] = p
	c, isBuddy := s.contactLocked(e.User)
	s.mu.Unlock()
	if changed && isBuddy {
		s.emit(sdk.ContactEvent{Change: sdk.ContactUpdated, Contact: c})
	}
}

// statusOf maps a Sametime status to an sdk one. The mobile flag is
// ignored; unknown online states count as available.
func statusOf(online bool, st stproto.StatusCode) sdk.PresenceStatus {
	if !online {
		return sdk.StatusOffline
	}
	switch st &^ stproto.StatusMobileFlag {
	case stproto.StatusIdle:
		return sdk.StatusIdle
	case stproto.StatusAway:
		return sdk.StatusAway
	case stproto.StatusBusy:
		return sdk.StatusBusy
	}
	return sdk.StatusAvailable
}

// sametimeStatus maps a status a device publishes. Sametime has no way to
// appear offline.
func sametimeStatus(st sdk.PresenceStatus) (stproto.StatusCode, error) {
	switch st {
	case sdk.StatusAvailable:
		return stproto.StatusActive, nil
	case sdk.StatusAway:
		return stproto.StatusAway, nil
	case sdk.StatusBusy:
		return stproto.StatusBusy, nil
	case sdk.StatusIdle:
		return stproto.StatusIdle, nil
	}
	return 0, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: status %q cannot be published (available, away, busy or idle)", st)
}

// newTransferID numbers an incoming file offer.
func (s *session) newTransferID() string {
	return fmt.Sprintf("st-%d", s.transfers.Add(1))
}
