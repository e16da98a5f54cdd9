# The smallest useful configuration: one GroupWise Messenger backend.
#
# Everything else comes from the built-in defaults: devices connect on port
# 4101 with a self-signed certificate, users live in a SQLite database in
# /var/lib/parley, and parleyctl talks to 127.0.0.1:4102.

backend "groupwise" {
  server {
    host = "gw.example.com" # port 8300 and TLS: GroupWise Messenger's defaults
  }
}
