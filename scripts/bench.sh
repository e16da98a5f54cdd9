#!/usr/bin/env bash
# Short benchmarks (well under 2 minutes): codecs and the session event log.
# The long load runs are described in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=()
for p in ./core/frame ./core/session ./plugins/groupwise/gwproto ./plugins/sametime/stproto; do
  [ -d "$p" ] && pkgs+=("$p")
done
go test -run='^$' -bench=. -benchmem -benchtime=200ms "${pkgs[@]}"
