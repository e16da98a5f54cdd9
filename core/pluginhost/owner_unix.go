//go:build unix

package pluginhost

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses files owned by anyone but root or the gateway's user.
func checkOwner(info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not root or the gateway's user", ErrUnsafeFile, info.Name(), uid)
	}
	return nil
}
