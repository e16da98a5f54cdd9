// Command parley-backend-memory is a backend plugin whose IM server lives
// inside the plugin process (plugins/sdk/sdktest/memory). It is for tests,
// demos and as the smallest example of a plugin main.
package main

import (
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
)

func main() {
	sdk.Serve(memory.New())
}
