package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

func TestProgressJSONLinesEveryFivePercent(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&printer{w: &out, errw: &out, json: true}, "a.bin", 1000)
	for b := uint64(0); b <= 1000; b += 10 {
		p.update(client.FileProgress{TransferID: "f1", State: devicev1.FileProgress_TRANSFERRING, Bytes: b, Size: 1000})
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 21 {
		t.Fatalf("%d lines for 0..100%% in 1%% steps, want 21 (one per 5%%):\n%s", len(lines), out.String())
	}
	var last struct {
		Type, Transfer, State string
		Bytes, Size           uint64
	}
	if err := json.Unmarshal([]byte(lines[20]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Type != "file_progress" || last.Transfer != "f1" || last.State != "transferring" || last.Bytes != 1000 || last.Size != 1000 {
		t.Errorf("last line %+v", last)
	}
}

func TestProgressBarDrawsOnATerminal(t *testing.T) {
	var tty, stdout bytes.Buffer
	p := newProgress(&printer{w: &stdout}, "photo.jpg", 2<<20)
	p.tty = &tty // as if stderr were a terminal
	p.update(client.FileProgress{State: devicev1.FileProgress_TRANSFERRING, Bytes: 1 << 20, Size: 2 << 20})
	p.finish()
	if stdout.Len() != 0 {
		t.Errorf("the bar went to stdout: %q", stdout.String())
	}
	want := fmt.Sprintf("\rphoto.jpg [%s%s]   50%%  1.0 MiB / 2.0 MiB", strings.Repeat("=", 15), strings.Repeat(" ", 15))
	if !strings.HasPrefix(tty.String(), want) || !strings.HasSuffix(tty.String(), "\n") {
		t.Errorf("bar %q, want it to start %q and end the line", tty.String(), want)
	}
	// Without a terminal and without --json, no progress is printed.
	var quiet bytes.Buffer
	p = newProgress(&printer{w: &quiet, errw: &quiet}, "photo.jpg", 10)
	p.update(client.FileProgress{Bytes: 5, Size: 10})
	p.finish()
	if quiet.Len() != 0 {
		t.Errorf("progress without a terminal: %q", quiet.String())
	}
}

func TestInvitationsAreRememberedBounded(t *testing.T) {
	var s state
	for i := range maxInvitations + 5 {
		s.remember(&devicev1.Event{Kind: &devicev1.Event_FileInvitation{FileInvitation: &devicev1.FileInvitation{
			TransferId: fmt.Sprint("t", i), From: "bob", Name: fmt.Sprint("f", i), Size: 10}}})
	}
	if len(s.Invitations) != maxInvitations {
		t.Fatalf("%d invitations remembered, want %d", len(s.Invitations), maxInvitations)
	}
	if _, ok := s.invitation("t0"); ok {
		t.Error("the oldest invitation is still there")
	}
	inv, ok := s.invitation(fmt.Sprint("t", maxInvitations+4))
	if !ok || inv.Name != fmt.Sprint("f", maxInvitations+4) {
		t.Errorf("newest invitation: %+v %v", inv, ok)
	}
	s.forget(inv.ID)
	if _, ok := s.invitation(inv.ID); ok {
		t.Error("a forgotten invitation is still there")
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"report.pdf": "report.pdf", "../../etc/passwd": "passwd", `..\x.exe`: "x.exe",
		"..": "", ".hidden": "", " ": ""} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
