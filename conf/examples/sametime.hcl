# IBM Lotus Sametime on its default port, 1533 (plain TCP: the Sametime
# protocol encrypts on its own), with a stricter file transfer policy than
# the built-in one for users without a group policy.

backend "sametime" {
  server {
    host = "st.example.com"
  }
}

file_policy {
  # Sametime's own default limit is 1 MB; the gateway may only be stricter.
  max_file_bytes     = 1048576
  blocked_extensions = [".exe", ".bat", ".cmd", ".js", ".vbs", ".msi", ".scr", ".tar.gz"]
  optimize_allowed   = true
}
