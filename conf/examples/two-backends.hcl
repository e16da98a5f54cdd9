# Two IM servers behind one gateway. Each user's record in the
# configuration database names the backend they log in to
# (parleyctl user add alice --backend groupwise ...).

backend "groupwise" {
  plugin = "parley-backend-groupwise" # the binary name works too

  server {
    host = "gw.example.com"
    port = 8300
  }
}

backend "sametime" {
  plugin = "sametime"

  server {
    host = "st.example.com"
    port = 1533
  }

  settings {
    # An object value for nested settings: blocks are not allowed here.
    limits = {
      max_conversations = 50
    }
  }
}
