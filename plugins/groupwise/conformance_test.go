package groupwise_test

import (
	"testing"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, sdktest.Harness{
		New:      func(*testing.T) sdk.Backend { return groupwise.New() },
		Settings: []byte(`{"request_timeout": "10s"}`),
		Server: func(t *testing.T) sdk.ServerAddress {
			return serverAddress(t, gwtest.NewServer(t))
		},
		Alice: sdktest.Account{Login: "alice", Password: "secret"},
		Bob:   sdktest.Account{Login: "bob", Password: "secret"},
	})
}
