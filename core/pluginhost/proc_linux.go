//go:build linux

package pluginhost

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel SIGKILL the plugin when the thread that
// started it exits (a supervisor keeps its own locked thread for its whole
// life, see supervisor.run), so a plugin never outlives a killed gateway.
// The plugin gets its own process group so killGroup also reaches whatever
// it forked.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// killGroup SIGKILLs the plugin's process group. Call it only while the
// plugin itself has not been reaped, so the group id cannot be reused.
func killGroup(pid int) error {
	return syscall.Kill(-pid, syscall.SIGKILL)
}
