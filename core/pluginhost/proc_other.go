//go:build !linux

package pluginhost

import "os/exec"

// setProcAttr has no parent-death signal to set outside Linux; the SDK's
// parent watchdog ends orphaned plugins there.
func setProcAttr(*exec.Cmd) {}

// killGroup has no process group to kill outside Linux.
func killGroup(int) error { return nil }
