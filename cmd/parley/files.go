package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// maxInvitations bounds the file invitations the state file remembers.
const maxInvitations = 32

// invitation is a file offered to the user, remembered from 'listen' so
// that 'accept' knows its name and size.
type invitation struct {
	ID   string `json:"id"`
	From string `json:"from"`
	Name string `json:"name"`
	Size uint64 `json:"size"`
}

// remember keeps a FileInvitation event's details in the state.
func (s *state) remember(e *devicev1.Event) {
	inv := e.GetFileInvitation()
	if inv == nil {
		return
	}
	s.forget(inv.TransferId)
	s.Invitations = append(s.Invitations, invitation{ID: inv.TransferId, From: inv.From, Name: inv.Name, Size: inv.Size})
	if n := len(s.Invitations); n > maxInvitations {
		s.Invitations = slices.Delete(s.Invitations, 0, n-maxInvitations)
	}
}

func (s *state) forget(id string) {
	s.Invitations = slices.DeleteFunc(s.Invitations, func(i invitation) bool { return i.ID == id })
}

func (s *state) invitation(id string) (invitation, bool) {
	for _, i := range s.Invitations {
		if i.ID == id {
			return i, true
		}
	}
	return invitation{}, false
}

// transfer is the session a send-file or accept runs in: a
// client.Session, so that the transfer carries on over a new link if the
// current one drops. Events that arrive meanwhile are printed, as 'listen'
// would print them (taking them acknowledges them).
type transfer struct {
	g    *globals
	sess *client.Session
	mu   sync.Mutex // guards st, which the session's callbacks save, and id
	st   *state
	id   string // the transfer's id, once known: its own events are not printed
	stop chan struct{}
	done chan struct{}
}

func (g *globals) openTransfer(ctx context.Context, out *printer) (*transfer, error) {
	st, err := g.load()
	if err != nil {
		return nil, err
	}
	if st.SessionID == "" {
		return nil, errors.New("not logged in: run 'parley login' first")
	}
	cfg, err := g.clientConfig(st)
	if err != nil {
		return nil, err
	}
	x := &transfer{g: g, st: st, stop: make(chan struct{}), done: make(chan struct{})}
	octx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	x.sess, err = client.OpenSession(octx, client.SessionConfig{
		Config: cfg, SessionID: st.SessionID, ResumeToken: st.ResumeToken, LastSeq: st.LastSeq,
		OnToken: func(id string, token []byte, _ uint64) {
			x.mu.Lock()
			defer x.mu.Unlock()
			x.st.SessionID, x.st.ResumeToken = id, token
			g.save(x.st)
		},
	})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(x.done)
		for {
			select {
			case e := <-x.sess.Events():
				x.mu.Lock()
				own := x.id != "" && e.GetFileProgress().GetTransferId() == x.id
				x.st.remember(e)
				x.st.LastSeq = max(x.st.LastSeq, e.Seq)
				x.mu.Unlock()
				if !own { // the transfer's progress has its own lines
					out.event(e)
				}
			case <-x.stop:
				return
			}
		}
	}()
	return x, nil
}

// named records the transfer's id.
func (x *transfer) named(id string) {
	x.mu.Lock()
	x.id = id
	x.mu.Unlock()
}

// state runs f on the remembered state.
func (x *transfer) state(f func(*state)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f(x.st)
}

// close ends the link without logging out and saves the state.
func (x *transfer) close() error {
	close(x.stop)
	<-x.done
	x.sess.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	_, x.st.ResumeToken, _ = x.sess.Resumption()
	return x.g.save(x.st)
}

func cmdSendFile(ctx context.Context, g *globals, out *printer, args []string) error {
	fs := flag.NewFlagSet("send-file", flag.ContinueOnError)
	to := fs.String("to", "", "recipient user id")
	conv := fs.String("conversation", "", "conversation id (instead of --to)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*to == "" && *conv == "") {
		return fmt.Errorf("%w: send-file needs --to or --conversation and one file", errUsage)
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	x, err := g.openTransfer(ctx, out)
	if err != nil {
		return err
	}
	defer x.close()
	bar := newProgress(out, filepath.Base(path), uint64(info.Size()))
	res, err := x.sess.SendFile(ctx, *to, *conv, filepath.Base(path), f, info.Size(),
		client.WithTransferID(func(id string) {
			x.named(id)
			out.emit(map[string]any{"type": "file_offered", "transfer": id, "name": filepath.Base(path), "size": info.Size()},
				fmt.Sprintf("offered %s (%s) as transfer %s; waiting for the recipient", filepath.Base(path), sizeText(uint64(info.Size())), id))
		}),
		client.WithProgress(bar.update))
	bar.finish()
	if err != nil {
		return err
	}
	recipient := *to
	if recipient == "" {
		recipient = *conv
	}
	out.emit(map[string]any{"type": "file_sent", "transfer": res.TransferID, "name": filepath.Base(path), "to": recipient,
		"bytes": res.Bytes, "sha256": hex.EncodeToString(res.SHA256)},
		fmt.Sprintf("sent %s to %s (%s)", filepath.Base(path), recipient, sizeText(res.Bytes)))
	return nil
}

func cmdAccept(ctx context.Context, g *globals, out *printer, args []string) error {
	fs := flag.NewFlagSet("accept", flag.ContinueOnError)
	optimize := fs.Bool("optimize", false, "ask for images downscaled to this device's screen (--screen-width, --screen-height)")
	output := fs.String("o", "", "where to save the file (default: its name, in the current directory)")
	force := fs.Bool("force", false, "overwrite the output file if it exists")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: accept needs one transfer id (from 'parley listen')", errUsage)
	}
	id := fs.Arg(0)
	x, err := g.openTransfer(ctx, out)
	if err != nil {
		return err
	}
	defer x.close()
	var inv invitation
	var known bool
	x.state(func(s *state) { inv, known = s.invitation(id) })
	path := *output
	if path == "" {
		path = id
		if known && safeName(inv.Name) != "" {
			path = safeName(inv.Name)
		}
	}
	if _, err := os.Stat(path); err == nil && !*force {
		return fmt.Errorf("%s exists: choose another with -o, or --force", path)
	}
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	x.named(id)
	bar := newProgress(out, filepath.Base(path), inv.Size)
	res, err := x.sess.Accept(ctx, id, *optimize, f, 0, client.WithExpectedSize(inv.Size), client.WithProgress(bar.update))
	bar.finish()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		os.Remove(part)
		if client.Code(err) != devicev1.ErrorCode_ERROR_CODE_UNSPECIFIED {
			x.state(func(s *state) { s.forget(id) }) // the gateway has ended it
		}
		return err
	}
	x.state(func(s *state) { s.forget(id) })
	from := inv.From
	if from == "" {
		from = "?"
	}
	text := fmt.Sprintf("received %s from %s (%s) into %s", filepath.Base(path), from, sizeText(res.Bytes), path)
	if res.Note != "" {
		text += "\n  " + res.Note
	}
	out.emit(map[string]any{"type": "file_received", "transfer": id, "from": inv.From, "path": path, "bytes": res.Bytes,
		"sha256": hex.EncodeToString(res.SHA256), "note": res.Note}, text)
	return nil
}

// safeName is the last element of a name from the network, usable as a
// file name in the current directory ("" if it is none).
func safeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return ""
	}
	return name
}

func cmdDecline(ctx context.Context, g *globals, out *printer, args []string) error {
	return answerOffer(ctx, g, out, args, "decline", "declined", (*client.Conn).Decline)
}

func cmdCancel(ctx context.Context, g *globals, out *printer, args []string) error {
	return answerOffer(ctx, g, out, args, "cancel", "cancelled", (*client.Conn).Cancel)
}

// answerOffer runs decline or cancel on one transfer id.
func answerOffer(ctx context.Context, g *globals, out *printer, args []string, name, done string,
	call func(*client.Conn, context.Context, string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: %s needs one transfer id", errUsage, name)
	}
	id := fs.Arg(0)
	conn, s, err := g.resume(ctx)
	if err != nil {
		return err
	}
	defer g.finish(conn, s)
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	if err := call(conn, rctx, id); err != nil {
		return err
	}
	s.forget(id)
	out.emit(map[string]any{"type": "file_" + done, "transfer": id}, fmt.Sprintf("%s transfer %s", done, id))
	return nil
}

// progress shows a transfer's progress: a bar on stderr when it is a
// terminal, JSON lines on stdout with --json (one per 5% or change of
// state), nothing otherwise.
type progress struct {
	out   *printer
	tty   io.Writer
	name  string
	size  uint64
	start time.Time

	drawn   time.Time
	percent int
	state   devicev1.FileProgress_State
	bytes   uint64
}

// progressRedraw is the shortest time between two redraws of the bar.
const progressRedraw = 100 * time.Millisecond

func newProgress(out *printer, name string, size uint64) *progress {
	p := &progress{out: out, name: name, size: size, start: time.Now(), percent: -1}
	if !out.json && isTerminal(out.errw) {
		p.tty = out.errw
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(fp client.FileProgress) {
	if fp.Size > 0 {
		p.size = fp.Size
	}
	p.bytes = fp.Bytes
	percent := 0
	if p.size > 0 {
		percent = int(min(fp.Bytes*100/p.size, 100))
	}
	changed := fp.State != p.state
	p.state = fp.State
	switch {
	case p.out.json:
		if changed || percent/5 != p.percent/5 {
			p.percent = percent
			m := map[string]any{"type": "file_progress", "transfer": fp.TransferID, "state": strings.ToLower(fp.State.String()),
				"bytes": fp.Bytes, "size": p.size}
			if fp.Note != "" {
				m["note"] = fp.Note
			}
			p.out.emit(m, "")
		}
	case p.tty != nil:
		if changed || time.Since(p.drawn) >= progressRedraw {
			p.draw()
		}
	}
}

// draw writes the bar over the current terminal line.
func (p *progress) draw() {
	const width = 30
	p.drawn = time.Now()
	filled := 0
	percent := "   ?%"
	if p.size > 0 {
		filled = int(min(p.bytes*width/p.size, width))
		percent = fmt.Sprintf("%4d%%", min(p.bytes*100/p.size, 100))
	}
	rate := ""
	if secs := time.Since(p.start).Seconds(); secs > 0.5 {
		rate = "  " + sizeText(uint64(float64(p.bytes)/secs)) + "/s"
	}
	fmt.Fprintf(p.tty, "\r%s [%s%s] %s  %s / %s%s\x1b[K", p.name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		percent, sizeText(p.bytes), sizeText(p.size), rate)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.tty != nil && !p.drawn.IsZero() {
		p.draw()
		fmt.Fprintln(p.tty)
	}
}

func sizeText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
