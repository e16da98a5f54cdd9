# A production node: PostgreSQL configuration database, a real certificate,
# admin API on a unix socket, JSON logs, pinned plugin binaries and cached
# credentials, so that users need not log in again after a restart.

data_dir   = "/var/lib/parley"
log_level  = "info"
log_format = "json"

listener "device" {
  address = "0.0.0.0:4101"
}

admin {
  address    = "unix:/run/parley/admin.sock"
  token_file = "/etc/parley/admin.token"
}

metrics {
  address = "10.0.0.12:9101"
}

tls {
  cert_file   = "/etc/parley/tls/gateway.example.com.crt"
  key_file    = "/etc/parley/tls/gateway.example.com.key"
  min_version = "1.2" # some older devices cannot do TLS 1.3
}

frame {
  max_frame          = 2097152
  compress_threshold = 512
}

plugins {
  dir           = "/usr/lib/parley/plugins"
  start_timeout = "15s"
  call_timeout  = "5s"

  # sha256sum /usr/lib/parley/plugins/parley-backend-groupwise
  pin "groupwise" {
    sha256 = "9f2c5a0d4b1e8c7f6a3d2e1b0c9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"
  }
}

database {
  driver = "postgres"
  dsn    = "postgres://parley@db.internal.example/parley?sslmode=verify-full"
}

sessions {
  max_sessions         = 20000
  detach_ttl           = "45m"
  heartbeat            = "30s"
  idle_timeout         = "2m"
  inactivity_timeout   = "12h"
  event_log_max_events = 2000
  event_log_max_bytes  = 524288
  cache_credentials    = true
  credential_key_file  = "/etc/parley/credential.key"
}

backend "groupwise" {
  server {
    host = "gw.example.com"
  }
}
