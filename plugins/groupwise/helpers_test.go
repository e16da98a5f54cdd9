package groupwise_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
)

// serverAddress is how the gateway would describe srv: its random port,
// TLS verified against its CA.
func serverAddress(t testing.TB, srv *gwtest.Server) sdk.ServerAddress {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.ServerAddress{Host: host, Port: uint16(p), TLS: true, CAPEM: srv.CACertPEM()}
}
