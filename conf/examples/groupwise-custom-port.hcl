# GroupWise Messenger on a custom port, with the server's certificate issued
# by a private CA.

backend "corp-gw" {
  plugin = "groupwise" # runs parley-backend-groupwise from plugins.dir

  server {
    host = "messenger.corp.example"
    port = 8301

    tls {
      enabled     = true
      ca_file     = "/etc/parley/corp-ca.pem"
      server_name = "messenger.corp.example"
    }
  }

  # Passed unchanged to the plugin as JSON; the keys are the plugin's own
  # (see its README).
  settings {
    request_timeout    = "30s"
    keepalive_interval = "30s"
  }
}
