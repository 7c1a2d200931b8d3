//go:build unix

package gatewaysim

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes the data dir for this process: a second simulator on the
// same dir would interleave two logs. The kernel releases the lock when the
// process dies, kill -9 included.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "gatewaysim.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("gatewaysim: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("gatewaysim: data dir %s is in use by another simulator: %w", dir, err)
	}
	return f, nil
}
