#!/usr/bin/env bash
# make demo: start parleyd with its plugins on a throw-away data dir, add two
# users with parleyctl, and script a conversation between two devices with
# the parley CLI. Everything runs on 127.0.0.1 and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(pwd)/bin"
work=$(mktemp -d /tmp/parley-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dev_port=$(port); admin_port=$(port)

cat >"$work/parley.hcl" <<HCL
data_dir  = "$work/data"
log_level = "info"
listener "device" { address = "127.0.0.1:$dev_port" }
admin { address = "127.0.0.1:$admin_port" }
metrics { address = "" }
plugins { dir = "$bin/plugins" }
backend "memory" {
  plugin = "parley-backend-memory"
  server {
    host = "localhost"
    port = 1
  }
}
HCL

say "starting parleyd (device link 127.0.0.1:$dev_port, admin 127.0.0.1:$admin_port)"
"$bin/parleyd" -config "$work/parley.hcl" 2>"$work/parleyd.log" &
pids+=($!)
for _ in $(seq 100); do
  [ -f "$work/data/tls/self-signed.crt" ] && [ -f "$work/data/admin.token" ] && grep -q listening "$work/parleyd.log" && break
  sleep 0.1
done
grep -q listening "$work/parleyd.log" || { echo "parleyd did not start:"; cat "$work/parleyd.log"; exit 1; }

ctl() { "$bin/parleyctl" -admin "127.0.0.1:$admin_port" -token-file "$work/data/admin.token" "$@"; }
say "parleyctl: enable two users for collaboration"
ctl user add alice -backend memory -name "Alice Example"
ctl user add bob -backend memory -name "Bob Example"
ctl user list

dev() { local who=$1; shift; PARLEY_PASSWORD=secret "$bin/parley" -server "127.0.0.1:$dev_port" -ca "$work/data/tls/self-signed.crt" -state "$work/$who.json" "$@"; }
say "alice logs in from her phone"
dev alice login -user alice
say "bob logs in"
dev bob login -user bob
say "alice → bob"
dev alice send -to bob "Hello Bob! ünïcödé ✓"
say "bob reads his messages"
dev bob listen -for 2s
say "bob → alice"
dev bob send -to alice "Hi Alice, Bob here ✓"
say "alice reads hers (her phone resumed the session, no second login)"
dev alice listen -for 2s
say "sessions on the gateway"
ctl sessions list
say "both log out"
dev alice logout
dev bob logout
say "demo finished"
