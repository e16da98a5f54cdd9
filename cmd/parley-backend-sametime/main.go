// Command parley-backend-sametime is Parley's IBM Lotus Sametime backend
// plugin (package plugins/sametime). parleyd starts it from its plugin
// directory; it is not meant to be run by hand.
package main

import (
	"github.com/parleygw/parley/plugins/sametime"
	"github.com/parleygw/parley/plugins/sdk"
)

func main() {
	sdk.Serve(sametime.New())
}
