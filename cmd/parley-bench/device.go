package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/core/frame"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// device is a simulated device speaking the device protocol directly over
// one TLS link: no goroutine of its own, so tens of thousands of them can
// be held idle cheaply, and every byte it reads or writes is counted.
type device struct {
	raw    *countingConn // TCP, below TLS: bytes on the wire
	conn   *tls.Conn
	app    *countingConn // above TLS: frame bytes
	in     *frame.Reader
	out    *frame.Writer
	nextID uint64

	// Welcome is the gateway's greeting.
	Welcome *devicev1.Welcome
	// events seen while waiting for replies, oldest first.
	events []*devicev1.Event
	// lastSeq is the newest event seq seen.
	lastSeq uint64
	// sessionID and token resume the session of the last login or resume.
	sessionID string
	token     []byte
	// lastWire and lastBody are the size of the last frame read, on the
	// link (header included, compressed if it was) and decoded.
	lastWire, lastBody int
	// loginWire and loginBody are the size of the last Login's answer:
	// the SessionOpened frame and, when the snapshot follows in a frame of
	// its own, that frame too.
	loginWire, loginBody int
}

// countingConn counts the bytes read and written through it.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// errUnexpected reports a reply of the wrong kind.
var errUnexpected = errors.New("unexpected reply")

// dialDevice connects from local (nil: any), completes TLS and the
// Hello/Welcome exchange.
func dialDevice(ctx context.Context, addr string, tlsCfg *tls.Config, local net.Addr, deviceID string, lim frame.Limits) (*device, error) {
	d := net.Dialer{LocalAddr: local, Timeout: 30 * time.Second}
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	raw := &countingConn{Conn: tcp}
	conn := tls.Client(raw, tlsCfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		tcp.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	app := &countingConn{Conn: conn}
	dev := &device{raw: raw, conn: conn, app: app, in: frame.NewReader(app, lim), out: frame.NewWriter(app, lim)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	resp, err := dev.call(&devicev1.Message{Body: &devicev1.Message_Hello{Hello: &devicev1.Hello{
		ProtocolVersion: 1, ClientName: "parley-bench", DeviceId: deviceID,
		Capabilities: []string{devicev1.CapabilityLoginSnapshotFrame}}}})
	if err != nil {
		dev.Close()
		return nil, err
	}
	if dev.Welcome = resp.GetWelcome(); dev.Welcome == nil {
		dev.Close()
		return nil, fmt.Errorf("hello: %w: %T", errUnexpected, resp.Body)
	}
	return dev, nil
}

// send writes messages as one frame.
func (d *device) send(sensitive bool, msgs ...*devicev1.Message) error {
	body, err := proto.Marshal(&devicev1.Frame{Messages: msgs})
	if err != nil {
		return err
	}
	if err := d.out.WriteFrame(body, sensitive); err != nil {
		return err
	}
	return d.out.Flush()
}

// readFrame reads the next frame's messages, keeping its events.
func (d *device) readFrame() ([]*devicev1.Message, error) {
	before := d.app.read.Load()
	body, err := d.in.ReadFrame()
	if err != nil {
		return nil, err
	}
	d.lastWire, d.lastBody = int(d.app.read.Load()-before), len(body)
	var f devicev1.Frame
	if err := proto.Unmarshal(body, &f); err != nil {
		return nil, err
	}
	for _, m := range f.Messages {
		if e := m.GetEvent(); e != nil {
			d.events = append(d.events, e)
			d.lastSeq = max(d.lastSeq, e.Seq)
		}
	}
	return f.Messages, nil
}

// call sends one request and reads frames until its reply.
func (d *device) call(m *devicev1.Message) (*devicev1.Message, error) {
	d.nextID++
	m.Id = d.nextID
	if err := d.send(m.GetLogin() != nil || m.GetResume() != nil, m); err != nil {
		return nil, err
	}
	for {
		msgs, err := d.readFrame()
		if err != nil {
			return nil, err
		}
		for _, r := range msgs {
			if r.Id != m.Id {
				continue
			}
			if e := r.GetError(); e != nil {
				return nil, fmt.Errorf("gateway: %s: %s", e.Code, e.Message)
			}
			return r, nil
		}
	}
}

// login logs in with a password.
func (d *device) login(user string) (*devicev1.SessionOpened, error) {
	resp, err := d.call(&devicev1.Message{Body: &devicev1.Message_Login{Login: &devicev1.Login{User: user, Password: password}}})
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	o := resp.GetSessionOpened()
	if o == nil {
		return nil, fmt.Errorf("login %s: %w: %T", user, errUnexpected, resp.Body)
	}
	d.loginWire, d.loginBody = d.lastWire, d.lastBody
	if o.SnapshotFollows {
		if o.Snapshot, err = d.followingSnapshot(resp.Id); err != nil {
			return nil, fmt.Errorf("login %s: %w", user, err)
		}
	}
	d.lastSeq = max(d.lastSeq, o.LastSeq)
	d.sessionID, d.token = o.SessionId, o.ResumeToken
	return o, nil
}

// followingSnapshot reads the frame after a SessionOpened with
// snapshot_follows: the Login's snapshot, under the Login's id.
func (d *device) followingSnapshot(id uint64) (*devicev1.Snapshot, error) {
	msgs, err := d.readFrame()
	if err != nil {
		return nil, fmt.Errorf("snapshot after SessionOpened: %w", err)
	}
	d.loginWire += d.lastWire
	d.loginBody += d.lastBody
	if len(msgs) != 1 || msgs[0].Id != id || msgs[0].GetSnapshot() == nil {
		return nil, fmt.Errorf("snapshot after SessionOpened: %w: %d messages", errUnexpected, len(msgs))
	}
	return msgs[0].GetSnapshot(), nil
}

// resume re-attaches to a session.
func (d *device) resume(sessionID string, token []byte, lastSeq uint64) (*devicev1.SessionOpened, error) {
	d.lastSeq = lastSeq
	resp, err := d.call(&devicev1.Message{Body: &devicev1.Message_Resume{Resume: &devicev1.Resume{
		SessionId: sessionID, ResumeToken: token, LastSeq: lastSeq}}})
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	o := resp.GetSessionOpened()
	if o == nil {
		return nil, fmt.Errorf("resume: %w: %T", errUnexpected, resp.Body)
	}
	d.sessionID, d.token = o.SessionId, o.ResumeToken
	return o, nil
}

// takeEvents returns and forgets the events seen so far.
func (d *device) takeEvents() []*devicev1.Event {
	evs := d.events
	d.events = nil
	return evs
}

// ack acknowledges every event up to the newest seen.
func (d *device) ack() error {
	return d.send(false, &devicev1.Message{Body: &devicev1.Message_Ack{Ack: &devicev1.Ack{Seq: d.lastSeq}}})
}

// Close drops the link without logging out.
func (d *device) Close() error { return d.conn.NetConn().Close() }
