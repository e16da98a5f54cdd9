// Package sdk is the contract between parleyd and backend plugins.
//
// A vendor implements Backend (and any of the optional interfaces such as
// ContactManager or FileTransfer that the IM system supports) and calls
// Serve from the plugin's main. The gateway loads the binary with
// hashicorp/go-plugin over gRPC (service parley.backend.v1) and uses the
// host half of this package (Client) to talk to it.
//
// docs/writing-a-plugin.md walks through a complete plugin; the sdktest
// package checks one against the contract.
package sdk
