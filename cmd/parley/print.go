package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

type printer struct {
	w    io.Writer
	errw io.Writer // stderr, where a terminal shows progress bars
	json bool
}

func (p *printer) emit(obj map[string]any, text string) {
	if p.json {
		b, _ := json.Marshal(obj)
		fmt.Fprintln(p.w, string(b))
		return
	}
	fmt.Fprintln(p.w, text)
}

func (p *printer) error(w io.Writer, err error) {
	if p.json {
		b, _ := json.Marshal(map[string]any{"type": "error", "code": exitCodeName(err), "error": err.Error()})
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "parley: %v\n", err)
}

func statusName(s devicev1.PresenceStatus) string {
	return strings.ToLower(s.String())
}

func (p *printer) snapshot(s *devicev1.Snapshot) {
	for _, c := range s.GetContacts() {
		p.emit(map[string]any{"type": "contact", "user": c.UserId, "name": c.DisplayName, "folder": folderName(s, c.FolderId),
			"status": statusName(c.Status), "note": c.Note},
			fmt.Sprintf("%-10s %-24s %-12s %s", statusName(c.Status), c.UserId, folderName(s, c.FolderId), c.DisplayName))
	}
}

func folderName(s *devicev1.Snapshot, id string) string {
	for _, f := range s.GetFolders() {
		if f.Id == id {
			return f.Name
		}
	}
	return id
}

func (p *printer) event(e *devicev1.Event) {
	at := time.UnixMilli(e.TimeUnixMs).Format("15:04:05")
	base := map[string]any{"seq": e.Seq, "time_unix_ms": e.TimeUnixMs}
	with := func(kv map[string]any) map[string]any {
		for k, v := range base {
			kv[k] = v
		}
		return kv
	}
	switch k := e.Kind.(type) {
	case *devicev1.Event_Message:
		m := k.Message
		p.emit(with(map[string]any{"type": "message", "from": m.From, "conversation": m.ConversationId, "text": m.Text}),
			fmt.Sprintf("%s <%s> %s", at, m.From, m.Text))
	case *devicev1.Event_Presence:
		m := k.Presence
		p.emit(with(map[string]any{"type": "presence", "user": m.UserId, "status": statusName(m.Status), "note": m.Note}),
			fmt.Sprintf("%s * %s is %s", at, m.UserId, statusName(m.Status)))
	case *devicev1.Event_Typing:
		m := k.Typing
		word := "stopped typing"
		if m.Typing {
			word = "is typing"
		}
		p.emit(with(map[string]any{"type": "typing", "from": m.From, "conversation": m.ConversationId, "typing": m.Typing}),
			fmt.Sprintf("%s * %s %s", at, m.From, word))
	case *devicev1.Event_Contact:
		m := k.Contact
		p.emit(with(map[string]any{"type": "contact_changed", "change": strings.ToLower(m.Change.String()), "user": m.Contact.GetUserId()}),
			fmt.Sprintf("%s * contact %s %s", at, m.Contact.GetUserId(), strings.ToLower(m.Change.String())))
	case *devicev1.Event_Conversation:
		m := k.Conversation
		p.emit(with(map[string]any{"type": "conversation", "change": strings.ToLower(m.Change.String()), "conversation": m.ConversationId, "user": m.UserId, "text": m.Text}),
			fmt.Sprintf("%s * %s %s conversation %s", at, m.UserId, strings.ToLower(m.Change.String()), m.ConversationId))
	case *devicev1.Event_FileInvitation:
		m := k.FileInvitation
		p.emit(with(map[string]any{"type": "file_invitation", "transfer": m.TransferId, "from": m.From, "name": m.Name, "size": m.Size}),
			fmt.Sprintf("%s * %s offers %s (%d bytes), transfer %s", at, m.From, m.Name, m.Size, m.TransferId))
	case *devicev1.Event_FileProgress:
		m := k.FileProgress
		obj := with(map[string]any{"type": "file_progress", "transfer": m.TransferId, "state": strings.ToLower(m.State.String()), "bytes": m.Bytes})
		text := fmt.Sprintf("%s * transfer %s %s (%d bytes)", at, m.TransferId, strings.ToLower(m.State.String()), m.Bytes)
		if m.Note != "" {
			obj["note"] = m.Note
			text += ": " + m.Note
		}
		if m.Error != nil {
			obj["code"], obj["error"] = m.Error.Code.String(), m.Error.Message
			text += fmt.Sprintf(": %s (%s)", m.Error.Message, m.Error.Code)
		}
		p.emit(obj, text)
	case *devicev1.Event_SessionEnded:
		m := k.SessionEnded
		p.emit(with(map[string]any{"type": "session_ended", "reason": m.Reason.String(), "message": m.Message}),
			fmt.Sprintf("%s * session ended: %s (%s)", at, m.Message, m.Reason))
	case *devicev1.Event_Gap:
		p.emit(with(map[string]any{"type": "gap", "after_seq": k.Gap.AfterSeq, "dropped": k.Gap.Dropped}),
			fmt.Sprintf("%s * %d events were lost after #%d; a fresh contact list follows", at, k.Gap.Dropped, k.Gap.AfterSeq))
	case *devicev1.Event_Snapshot:
		p.emit(with(map[string]any{"type": "snapshot", "contacts": len(k.Snapshot.Contacts)}),
			fmt.Sprintf("%s * contact list refreshed (%d contacts)", at, len(k.Snapshot.Contacts)))
		p.snapshot(k.Snapshot)
	}
}
