package benchutil

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU is the machine's CPU time so far, from /proc/stat: busy (user, nice,
// system, irq, softirq) and stolen by other virtual machines. The difference
// of two samples divided by the work done in between is a cost per unit of
// work that does not move with the machine's neighbours the way a rate does.
type CPU struct {
	Busy, Steal time.Duration
}

// ReadCPU samples /proc/stat; zero where it cannot be read.
func ReadCPU() CPU {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return CPU{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return CPU{}
	}
	fields := strings.Fields(sc.Text()) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return CPU{}
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseInt(fields[i], 10, 64)
		return time.Duration(n) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return CPU{Busy: tick(1) + tick(2) + tick(3) + tick(6) + tick(7), Steal: tick(8)}
}

// Since is the CPU time spent from c to now.
func (c CPU) Since() CPU {
	now := ReadCPU()
	return CPU{Busy: now.Busy - c.Busy, Steal: now.Steal - c.Steal}
}
