//go:build !unix

package gatewaysim

import (
	"os"
	"path/filepath"
)

// lockDir only marks the data dir where flock is not available.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "gatewaysim.lock"), os.O_RDWR|os.O_CREATE, 0o644)
}
