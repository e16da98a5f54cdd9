package router_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
)

// BenchmarkDeliver is the gateway's half of the plugin event stream: a
// batch of chat events (as one Subscribe message brings them) turned into
// device events, appended to the sessions' logs and taken by the devices'
// links, which acknowledge them. ns/op is per event.
func BenchmarkDeliver(b *testing.B) {
	const sessions, batch = 1000, 256
	m := session.NewManager(session.Config{MaxSessions: sessions}, func(*session.Session, string) {}, nil)
	r := router.New(router.Options{Sessions: m})
	open := func(context.Context, *session.Session) (sdk.Capabilities, error) { return sdk.Capabilities{}, nil }
	devices := make([]*session.Device, sessions)
	for i := range devices {
		user := fmt.Sprintf("u%d", i)
		d, _, _, err := m.Login(context.Background(), user, "memory", user, "secret", user+"-phone", open)
		if err != nil {
			b.Fatal(err)
		}
		devices[i] = d
	}
	events := make([]sdk.Event, batch)
	for i := range events {
		events[i] = sdk.Event{SessionID: devices[(i*7)%sessions].Session().ID, Kind: sdk.MessageEvent{
			ConversationID: "dm:alice:bob", From: "alice", Text: "a typical chat message of about sixty bytes, give or take"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Deliver("memory", events)
		for i := range events {
			d := devices[(i*7)%sessions]
			if evs, _ := d.Next(64); len(evs) > 0 {
				d.Ack(evs[len(evs)-1].Seq)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}
