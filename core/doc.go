// Package core assembles the daemon: the TLS device listener, the session
// cache and router, the configuration database, the plugin host, the admin
// API and metrics. cmd/parleyd is a thin main around it:
// flags → conf.Load → core.New → Start → Serve → Shutdown.
package core
