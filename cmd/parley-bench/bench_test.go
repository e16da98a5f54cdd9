package main

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPercentilesAreNearestRank(t *testing.T) {
	var d durations
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(1001-i)*time.Microsecond) // unsorted on purpose
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		if got := d.pct(c.q); got != c.want {
			t.Errorf("p%v = %v, want %v", c.q*100, got, c.want)
		}
	}
	if got := (durations{}).pct(0.5); got != 0 {
		t.Errorf("empty set: %v", got)
	}
}

func TestLoadsAcceptMaxAndRejectNonsense(t *testing.T) {
	got, err := parseLoads("2000, 10000,max")
	if err != nil || len(got) != 3 || got[0] != 2000 || got[1] != 10000 || got[2] != 0 {
		t.Fatalf("parseLoads = %v, %v", got, err)
	}
	for _, bad := range []string{"", "fast", "-5", "0"} {
		if _, err := parseLoads(bad); err == nil {
			t.Errorf("parseLoads(%q) accepted", bad)
		}
	}
}

func TestStepMatchesDeliveriesToItsOwnMessages(t *testing.T) {
	s := newStep("s01 ", 10)
	s.t0 = time.Now()
	s.sent.Store(2)
	s.delivered(s.text(3), s.t0.Add(time.Millisecond))
	s.delivered(s.text(3), s.t0.Add(2*time.Millisecond)) // a duplicate
	s.delivered("s02 3 "+strings.Repeat("x", 90), s.t0)  // another step's message
	s.delivered(s.text(42), s.t0)                        // beyond this step
	if got := s.received.Load(); got != 1 {
		t.Fatalf("received %d, want 1", got)
	}
	if got := s.dups.Load(); got != 1 {
		t.Fatalf("duplicates %d, want 1", got)
	}
	if len(s.text(7)) != messageSize {
		t.Fatalf("message of %d bytes, want %d", len(s.text(7)), messageSize)
	}
}

func TestDelayProxyAddsItsRoundTripAndKeepsTheBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	const rtt = 40 * time.Millisecond
	p, err := startDelayProxy(ln.Addr().String(), rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("parley "), 10000)
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < rtt {
		t.Errorf("echo through the proxy took %v, less than its round trip %v", took, rtt)
	}
	if !bytes.Equal(got, msg) {
		t.Error("the proxy changed the bytes")
	}
}
