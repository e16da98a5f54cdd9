#!/usr/bin/env bash
# make bench: the short benchmark run CI may run (well under 2 minutes).
# 1. Go benchmarks of the hot paths with a short benchtime: frame codec,
#    session event log, link relay, router delivery, client link, plugin
#    event queue and stream, GroupWise and Sametime codecs.
# 2. parley-bench -short against the binaries make build put in bin/:
#    relay at one load on the memory and GroupWise backends (each beside
#    its baseline without the gateway), resume against full login, and
#    login bytes on the wire. BENCH_JSON=file also writes its figures as JSON.
# The long runs are in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(./core/frame ./core/session ./core/link ./core/router ./client ./plugins/sdk
      ./plugins/groupwise/gwproto ./plugins/sametime/stproto)
go test -run='^$' -bench=. -benchmem -benchtime="${BENCHTIME:-100ms}" "${pkgs[@]}"
args=(-short)
if [ -n "${BENCH_JSON:-}" ]; then args+=(-json "$BENCH_JSON"); fi
bin/parley-bench "${args[@]}"
