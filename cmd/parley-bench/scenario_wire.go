package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/parleygw/parley/core/frame"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// wireOptions shape the wire scenario.
type wireOptions struct {
	contacts int // on the login's contact list
}

// Names for the contact list, so display names look like real ones.
var (
	givenNames  = []string{"Anna", "Bernd", "Chiara", "Dmitri", "Elif", "François", "Greta", "Hiroshi", "Ines", "Jonas", "Katarzyna", "Lars", "Mónica", "Nils", "Olga", "Pedro"}
	familyNames = []string{"Andersson", "Bianchi", "Castro", "Dubois", "Eriksen", "Fischer", "García", "Horváth", "Ivanova", "Jansen", "Kowalski", "Larsen", "Müller", "Novak", "Okafor", "Petrov", "Quist"}
)

// wireUsers is a user whose contact list holds n people in four folders,
// and those people.
func wireUsers(n int) []imUser {
	self := imUser{ID: "wire", Password: password, FullName: "Wire Measurement", Contacts: []string{}}
	folders := []string{"Team", "Project Atlas", "Suppliers", "Friends"}
	users := []imUser{}
	for i := range n {
		given, family := givenNames[i%len(givenNames)], familyNames[(i/len(givenNames))%len(familyNames)]
		id := fmt.Sprintf("%c%s%d", given[0]|0x20, strings.ToLower(family), i)
		users = append(users, imUser{ID: id, Password: password, Contacts: []string{}, FullName: given + " " + family})
		if i%5 == 0 {
			self.Contacts = append(self.Contacts, id)
			continue
		}
		f := i % len(folders)
		for len(self.Folders) <= f {
			self.Folders = append(self.Folders, imFolder{Name: folders[len(self.Folders)], Contacts: []string{}})
		}
		self.Folders[f].Contacts = append(self.Folders[f].Contacts, id)
	}
	return append([]imUser{self}, users...)
}

// loginBytes is what one login put on the link.
type loginBytes struct {
	openedWire, openedBody int   // the Login's answer: SessionOpened and the snapshot frame after it
	snapWire, snapBody     int   // the GetContacts answer's frame
	tlsIn, tlsOut          int64 // TCP payload both ways, dial to the end of the Login answer
}

func scenarioWire(ctx context.Context, o options, rep *report) error {
	work, err := os.MkdirTemp("", "parley-bench-wire-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	users := wireUsers(o.wire.contacts)
	fake, err := startFakeGroupWise(ctx, o.binDir, work, users)
	if err != nil {
		return err
	}
	defer fake.stop(5 * time.Second)

	var got [2]loginBytes
	for i, threshold := range []int{0, frame.DefaultMaxFrame} {
		g, err := startGateway(ctx, o.binDir, work, fmt.Sprintf("gateway-%d", i),
			gatewaySpec{groupwise: fake, gwUsers: []string{"wire"}, compressThreshold: threshold})
		if err != nil {
			return err
		}
		got[i], err = measureLogin(ctx, g)
		g.stop()
		if err != nil {
			return g.failure("wire", err)
		}
	}
	on, off := got[0], got[1]
	o.logf("wire: login answer %d B on the link with compression, %d B without (body %d B); GetContacts %d B vs %d B",
		on.openedWire, off.openedWire, on.openedBody, on.snapWire, off.snapWire)
	scen := fmt.Sprintf("wire %d contacts", o.wire.contacts)
	ratio := float64(on.openedWire) / float64(off.openedWire)
	rep.Measured.Wire = &wireBytes{Contacts: o.wire.contacts, Compressed: on.openedWire, Uncompressed: off.openedWire, Load: loadAvg()}
	rep.add(figure{Scenario: scen, Name: "login answer (SessionOpened + snapshot frame)", Value: float64(on.openedWire), Unit: "B",
		Baseline: ptr(float64(off.openedWire)), BaselineName: "compression disabled",
		Target: fmt.Sprintf("<= %.0f%% of uncompressed", targetWireRatio*100), Met: atMost(ratio, targetWireRatio),
		Note: fmt.Sprintf("decoded body %d B; compress_threshold default (%d) vs %d (off)", on.openedBody, frame.DefaultCompressThreshold, frame.DefaultMaxFrame)})
	rep.add(figure{Scenario: scen, Name: "contact list frame (GetContacts)", Value: float64(on.snapWire), Unit: "B",
		Baseline: ptr(float64(off.snapWire)), BaselineName: "compression disabled", Note: fmt.Sprintf("decoded body %d B", on.snapBody)})
	rep.add(figure{Scenario: scen, Name: "login on TCP (TLS, both ways)", Value: float64(on.tlsIn + on.tlsOut), Unit: "B",
		Baseline: ptr(float64(off.tlsIn + off.tlsOut)), BaselineName: "compression disabled",
		Note: "dial to the end of the Login answer: TLS handshake, Hello/Welcome, Login, SessionOpened and its snapshot frame"})
	return nil
}

func measureLogin(ctx context.Context, g *gateway) (loginBytes, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d, err := dialDevice(ctx, g.addr, g.tls, nil, "wire-phone", frame.Limits{})
	if err != nil {
		return loginBytes{}, err
	}
	defer d.Close()
	var b loginBytes
	if _, err := d.login("wire"); err != nil {
		return b, err
	}
	b.openedWire, b.openedBody = d.loginWire, d.loginBody
	b.tlsIn, b.tlsOut = d.raw.read.Load(), d.raw.written.Load()
	resp, err := d.call(&devicev1.Message{Body: &devicev1.Message_GetContacts{GetContacts: &devicev1.GetContacts{}}})
	if err != nil {
		return b, fmt.Errorf("get contacts: %w", err)
	}
	if n := len(resp.GetSnapshot().GetContacts()); n == 0 {
		return b, fmt.Errorf("get contacts: %w: empty contact list", errUnexpected)
	}
	b.snapWire, b.snapBody = d.lastWire, d.lastBody
	return b, nil
}
