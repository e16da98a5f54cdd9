# Parley's built-in configuration.
#
# parleyd runs on exactly this when it is started without a configuration
# file, and every configuration file is layered over it: a file only needs
# the attributes it changes. Relative paths are relative to data_dir.
# The reference for each attribute is the Config type in package conf.

data_dir   = "/var/lib/parley"
log_level  = "info"
log_format = "text"

# Devices connect here: every interface, IPv4 and IPv6.
listener "device" {
  address = ":4101"
}

# parleyctl connects here; only loopback or a unix socket is accepted.
admin {
  address    = "127.0.0.1:4102"
  token_file = "admin.token"
}

# Prometheus scrapes /metrics here; address = "" turns it off.
metrics {
  address = "127.0.0.1:4103"
}

# No certificate: a self-signed ECDSA P-256 one is kept in data_dir/tls.
tls {
  cert_file   = ""
  key_file    = ""
  min_version = "1.3"
}

frame {
  max_frame          = 1048576
  compress_threshold = 256
}

plugins {
  dir           = "/usr/lib/parley/plugins"
  start_timeout = "10s"
  call_timeout  = "5s"
}

# dsn = "" with sqlite: the file parley.db in data_dir.
database {
  driver = "sqlite"
  dsn    = ""
}

sessions {
  max_sessions         = 5000
  detach_ttl           = "30m"
  heartbeat            = "30s"
  idle_timeout         = "90s"
  inactivity_timeout   = "0s"
  event_log_max_events = 1000
  event_log_max_bytes  = 262144
  cache_credentials    = false
  credential_key_file  = "credential.key"
}

# Applies to users whose group has no policy in the configuration database.
file_policy {
  enabled            = true
  max_file_bytes     = 10485760
  blocked_extensions = ["bat", "cmd", "com", "exe", "msi", "pif", "scr", "vbs"]
  optimize_allowed   = true
}
