// Package filexfer moves files between devices and backend plugins (DESIGN
// §7). It applies the user's file policy to every offer (on/off, size,
// blocked extensions), streams the data through a spool file per transfer
// in the data directory — so memory per transfer stays at a chunk or two
// whatever the file size, and a device that drops its link resumes from the
// last acknowledged byte while the IM side carries on; an upload's spool
// keeps only the two windows its plugin may not have read — checks sha256 end to
// end, downscales images for the device's screen on request, and records
// every transfer that ends in the transfer log.
//
// The device side is chunked and flow-controlled: at most Window bytes of a
// transfer are unacknowledged at any time, in each direction. The link
// pulls the gateway's chunks and acknowledgements with Next when Wake
// fires, and hands the device's ones to FromDevice; neither ever blocks.
// The chunks' data is lent from a pool and comes back with Release.
package filexfer
