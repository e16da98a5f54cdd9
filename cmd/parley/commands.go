package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/parleygw/parley/client"
)

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return nil
}

func cmdLogin(ctx context.Context, g *globals, out *printer, args []string) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	user := fs.String("user", "", "user name")
	pwFile := fs.String("password-file", "", "file holding the password (else $PARLEY_PASSWORD)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	password := os.Getenv("PARLEY_PASSWORD")
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return fmt.Errorf("reading password: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if *user == "" {
		return fmt.Errorf("%w: login needs --user", errUsage)
	}
	s, err := g.load()
	if err != nil {
		return err
	}
	conn, err := g.dial(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	lctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	opened, err := conn.Login(lctx, *user, password)
	if err != nil {
		return err
	}
	s.Server, s.User, s.SessionID, s.ResumeToken, s.LastSeq = g.server, opened.User, opened.SessionId, opened.ResumeToken, opened.LastSeq
	if err := g.save(s); err != nil {
		return err
	}
	out.emit(map[string]any{"type": "logged_in", "user": opened.User, "backend": opened.Backend, "session": opened.SessionId,
		"contacts": len(opened.Snapshot.GetContacts())},
		fmt.Sprintf("logged in as %s on %s (%d contacts)", opened.User, opened.Backend, len(opened.Snapshot.GetContacts())))
	out.snapshot(opened.Snapshot)
	return nil
}

func cmdSend(ctx context.Context, g *globals, out *printer, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	to := fs.String("to", "", "recipient user id")
	conv := fs.String("conversation", "", "conversation id (instead of --to)")
	id := fs.String("id", "", "client message id (default: random); reuse it to retry safely")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" || (*to == "" && *conv == "") {
		return fmt.Errorf("%w: send needs --to or --conversation and a text", errUsage)
	}
	if *id == "" {
		var b [12]byte
		rand.Read(b[:])
		*id = hex.EncodeToString(b[:])
	}
	conn, s, err := g.resume(ctx)
	if err != nil {
		return err
	}
	defer g.finish(conn, s)
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	sent, err := conn.SendMessage(rctx, *to, *conv, text, *id)
	if err != nil {
		return err
	}
	out.emit(map[string]any{"type": "sent", "conversation": sent.ConversationId, "id": *id, "duplicate": sent.Duplicate},
		fmt.Sprintf("sent (conversation %s)", sent.ConversationId))
	return nil
}

func cmdListen(ctx context.Context, g *globals, out *printer, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	count := fs.Int("count", 0, "stop after this many events (0: no limit)")
	wait := fs.Duration("for", 0, "stop after this long (0: until interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := g.load()
	if err != nil {
		return err
	}
	if st.SessionID == "" {
		return errors.New("not logged in: run 'parley login' first")
	}
	cfg, err := g.clientConfig(st)
	if err != nil {
		return err
	}
	// A long listen rides out dropped links: the session resumes by itself,
	// with backoff, and each new single-use token is saved at once.
	octx, cancel := context.WithTimeout(ctx, g.timeout)
	sess, err := client.OpenSession(octx, client.SessionConfig{
		Config: cfg, SessionID: st.SessionID, ResumeToken: st.ResumeToken, LastSeq: st.LastSeq,
		OnToken: func(id string, token []byte, _ uint64) {
			st.SessionID, st.ResumeToken = id, token
			g.save(st)
		},
		OnState: func(state client.State, cause error) {
			if state == client.StateConnected || errors.Is(cause, client.ErrSessionClosed) {
				return // the normal case, and our own close at the end
			}
			msg := ""
			if cause != nil {
				msg = cause.Error()
			}
			out.emit(map[string]any{"type": "link", "state": state.String(), "error": msg},
				fmt.Sprintf("* link %s %s", state, msg))
		},
	})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		sess.Close()
		_, st.ResumeToken, _ = sess.Resumption()
		g.save(st)
	}()
	var deadline <-chan time.Time
	if *wait > 0 {
		deadline = time.After(*wait)
	}
	seen := 0
	for {
		select {
		case e := <-sess.Events():
			out.event(e) // taking it from the session acknowledged it
			st.remember(e)
			if e.Seq > st.LastSeq {
				st.LastSeq = e.Seq
			}
			seen++
			if *count > 0 && seen >= *count {
				return nil
			}
		case <-sess.Done():
			_, cause := sess.State()
			return cause
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func cmdContacts(ctx context.Context, g *globals, out *printer, _ []string) error {
	conn, s, err := g.resume(ctx)
	if err != nil {
		return err
	}
	defer g.finish(conn, s)
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	snap, err := conn.Contacts(rctx)
	if err != nil {
		return err
	}
	out.snapshot(snap)
	return nil
}

func cmdStatus(_ context.Context, g *globals, out *printer, _ []string) error {
	s, err := g.load()
	if err != nil {
		return err
	}
	state := "logged out"
	if s.SessionID != "" {
		state = "detached (resumes on the next command)"
	}
	out.emit(map[string]any{"type": "status", "server": s.Server, "user": s.User, "session": s.SessionID,
		"last_seq": s.LastSeq, "state": state},
		fmt.Sprintf("server %s, user %s, session %s, last event #%d: %s", s.Server, s.User, s.SessionID, s.LastSeq, state))
	return nil
}

func cmdLogout(ctx context.Context, g *globals, out *printer, _ []string) error {
	conn, s, err := g.resume(ctx)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	err = conn.Logout(rctx)
	s.SessionID, s.ResumeToken, s.LastSeq = "", nil, 0
	if serr := g.save(s); serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	out.emit(map[string]any{"type": "logged_out"}, "logged out")
	return nil
}
