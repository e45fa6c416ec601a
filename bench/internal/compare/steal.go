package compare

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// cpuTimes is the machine-wide "cpu" line of /proc/stat: total and steal
// ticks. Steal is time the hypervisor gave the machine's CPUs to someone
// else; on a shared host it inflates every server's CPU per transaction
// in the runs it hits, so each run records it.
type cpuTimes struct{ total, steal uint64 }

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, s := range f[1:] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, err
			}
			// guest and guest_nice (fields 9 and 10) are already in user.
			if i < 8 {
				t.total += v
			}
			if i == 7 {
				t.steal = v
			}
		}
		return t, nil
	}
	return cpuTimes{}, errors.New("/proc/stat has no cpu line")
}

// stealFraction is the share of machine CPU time stolen between a and b,
// or -1 when unknown.
func stealFraction(a, b cpuTimes, errA, errB error) float64 {
	if errA != nil || errB != nil || b.total <= a.total {
		return -1
	}
	return float64(b.steal-a.steal) / float64(b.total-a.total)
}
