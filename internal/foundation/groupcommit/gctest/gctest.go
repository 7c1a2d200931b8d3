// Package gctest checks that tests stop the group-commit queues they start
// (a payments.Service, a payments.Flow, an app): call Main from TestMain.
package gctest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writerFrame is in the stack of every running writer goroutine.
const writerFrame = "civicpay/internal/foundation/groupcommit.(*Queue[...]).loop"

// Main runs the tests and fails them if a groupcommit writer goroutine is
// still running after them (someone did not Close a queue). It returns the
// exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := Stopped(5 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "gctest:", err)
		return 1
	}
	return 0
}

// Stopped waits up to wait for no writer goroutine to run in this process
// (one that Close has waited for may still be returning), and otherwise
// returns an error with their stacks.
func Stopped(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		leaked := writers()
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d groupcommit writer goroutines still running (a queue was not closed):\n\n%s",
				len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writers() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, writerFrame) {
			out = append(out, g)
		}
	}
	return out
}
