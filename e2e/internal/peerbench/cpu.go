package peerbench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the CPU a process has used so far, user and system
// together, read two ways from /proc:
//
//   - stat: utime+stime of /proc/<pid>/stat, in clock ticks (10 ms);
//   - exec: the sum over /proc/<pid>/task/*/schedstat of each thread's
//     time on a CPU, in nanoseconds.
//
// Both are the scheduler's sum_exec_runtime (the kernel scales utime and
// stime so that they add up to it), but stat rounds to 10 ms, which is
// 18 µs per transaction over a 5 s window of 550 submits, too coarse for
// the chaincode server. exec misses threads that exited during the window
// (Go programs rarely end threads); a difference shows it, and delta then
// falls back to stat.
type cpuSample struct {
	stat time.Duration
	exec time.Duration
	ok   bool // exec was readable
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func readCPU(pid int) (cpuSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuSample{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return cpuSample{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return cpuSample{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return cpuSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	c := cpuSample{stat: time.Duration(ut+st) * time.Second / clockTicks}
	c.exec, c.ok = threadsCPU(pid)
	return c, nil
}

func threadsCPU(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread ended since ReadDir
		}
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += n
	}
	return time.Duration(sum), true
}

// cpuDelta is the CPU used between two samples: exec's when both have it
// and it agrees with stat's to within stat's rounding (a tick at each
// end) and a tenth; stat's otherwise, reported by coarse.
func cpuDelta(a, b cpuSample) (d time.Duration, coarse bool) {
	stat := b.stat - a.stat
	if !a.ok || !b.ok {
		return stat, true
	}
	exec := b.exec - a.exec
	slack := 2*time.Second/clockTicks + stat/10
	if exec < stat-slack || exec > stat+slack {
		return stat, true
	}
	return exec, false
}
