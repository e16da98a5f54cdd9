#!/usr/bin/env bash
# make demo: start simulated GroupWise Messenger and Sametime servers,
# parleyd with its two backend plugins on a throw-away data dir, enable four
# users with parleyctl, and script conversations between devices with the
# parley CLI: alice and bob on GroupWise, carol and dave on Sametime.
# Everything runs on 127.0.0.1 and is removed at the end.
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
wait_for() { # wait_for LOG WHAT
  for _ in $(seq 100); do grep -q listening "$1" && return 0; sleep 0.1; done
  echo "$2 did not start:"; cat "$1"; exit 1
}
dev_port=$(port); admin_port=$(port); gw_port=$(port); st_port=$(port)

say "simulated GroupWise Messenger server on 127.0.0.1:$gw_port (TLS, its own CA)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/gw.key" -out "$work/gw.crt" 2>/dev/null
"$bin/parley-fake-groupwise" -addr "127.0.0.1:$gw_port" -cert "$work/gw.crt" -key "$work/gw.key" 2>"$work/groupwise.log" &
pids+=($!)
wait_for "$work/groupwise.log" "the GroupWise server"

say "simulated Sametime server on 127.0.0.1:$st_port (RC2/DH)"
cat >"$work/sametime-users.json" <<JSON
{"users": [
  {"id": "carol", "password": "secret", "full_name": "Carol Example", "contacts": ["dave"]},
  {"id": "dave",  "password": "secret", "full_name": "Dave Example",  "contacts": ["carol"]}
]}
JSON
"$bin/parley-fake-sametime" -addr "127.0.0.1:$st_port" -users "$work/sametime-users.json" 2>"$work/sametime.log" &
pids+=($!)
wait_for "$work/sametime.log" "the Sametime server"

cat >"$work/parley.hcl" <<HCL
data_dir  = "$work/data"
log_level = "info"
listener "device" { address = "127.0.0.1:$dev_port" }
admin { address = "127.0.0.1:$admin_port" }
metrics { address = "" }
plugins { dir = "$bin/plugins" }

backend "groupwise" {
  server {
    host = "127.0.0.1"
    port = $gw_port  # custom port; GroupWise's default is 8300
    tls {
      enabled = true
      ca_file = "$work/gw.crt"
    }
  }
}

backend "sametime" {
  server {
    host = "127.0.0.1"
    port = $st_port  # custom port; Sametime's default is 1533
  }
}
HCL

say "parleyd: device link 127.0.0.1:$dev_port, admin API 127.0.0.1:$admin_port"
"$bin/parleyd" -config "$work/parley.hcl" 2>"$work/parleyd.log" &
pids+=($!)
wait_for "$work/parleyd.log" "parleyd"

ctl() { "$bin/parleyctl" -admin "127.0.0.1:$admin_port" -token-file "$work/data/admin.token" "$@"; }
say "parleyctl: enable four users for collaboration"
ctl user add alice -backend groupwise -name "Alice Example" >/dev/null
ctl user add bob -backend groupwise -name "Bob Example" >/dev/null
ctl user add carol -backend sametime -name "Carol Example" >/dev/null
ctl user add dave -backend sametime -name "Dave Example" >/dev/null
ctl user list
ctl plugins list

dev() { local who=$1; shift; PARLEY_PASSWORD=secret "$bin/parley" -server "127.0.0.1:$dev_port" -ca "$work/data/tls/self-signed.crt" -state "$work/$who.json" "$@"; }
say "mallory is not enabled: the gateway refuses her before any IM server is asked"
dev mallory login -user mallory || true

say "alice (GroupWise) and carol (Sametime) log in from their phones"
dev alice login -user alice
dev carol login -user carol
say "bob (GroupWise) and dave (Sametime) log in"
dev bob login -user bob
dev dave login -user dave

say "GroupWise: alice → bob, bob → alice"
dev alice send -to bob "Hello Bob! ünïcödé ✓"
dev bob listen -for 2s
dev bob send -to alice "Hi Alice, Bob here ✓"
dev alice listen -for 2s

say "Sametime: carol → dave, dave → carol (an RC2/128-encrypted IM channel)"
dev carol send -to dave "Hello Dave, over Sametime ✓"
dev dave listen -for 2s
dev dave send -to carol "Hi Carol ßüñ"
dev carol listen -for 2s

say "sessions on the gateway (each phone resumed its session for every command: one IM login each)"
ctl sessions list
say "everyone logs out"
for who in alice bob carol dave; do dev "$who" logout; done
say "demo finished"
