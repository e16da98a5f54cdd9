// Command parley-backend-groupwise is the backend plugin for Novell
// GroupWise Messenger (plugins/groupwise). parleyd starts it from its
// plugin directory; it is not meant to be run by hand.
package main

import (
	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/sdk"
)

func main() {
	sdk.Serve(groupwise.New())
}
