#!/usr/bin/env bash
# make bench: the short benchmark run CI may run (about a minute).
# 1. Go benchmarks of the hot paths with a short benchtime: frame codec,
#    session event log, link relay, router delivery, client link, plugin
#    event queue and stream, GroupWise and Sametime codecs.
# 2. parley-bench -short against the binaries make build put in bin/:
#    relay on the memory and GroupWise backends at the closed-loop maximum
#    and at half of it (each beside its baseline without the gateway),
#    resume against full login, and login bytes on the wire, then the
#    targets of issue 7 those measured. BENCH_JSON=file also writes the
#    figures and the targets as JSON.
# BENCH_ALL=1 runs every scenario instead (bin/parley-bench with its
# defaults: every target once, under 15 minutes on 2 cores); see
# docs/performance.md for the single scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-short)
if [ -n "${BENCH_ALL:-}" ]; then args=(); fi
if [ -n "${BENCH_JSON:-}" ]; then args+=(-json "$BENCH_JSON"); fi
if [ -z "${BENCH_ALL:-}" ]; then
  pkgs=(./core/frame ./core/session ./core/link ./core/router ./client ./plugins/sdk
        ./plugins/groupwise/gwproto ./plugins/sametime/stproto)
  go test -run='^$' -bench=. -benchmem -benchtime="${BENCHTIME:-100ms}" "${pkgs[@]}"
fi
bin/parley-bench "${args[@]}"
