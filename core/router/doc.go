// Package router connects devices to backends: it authorises logins
// against the configuration database before any backend call, opens and
// joins backend sessions through the session cache, turns device requests
// into plugin calls, and turns plugin events into numbered session events.
package router
