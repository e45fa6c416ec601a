package compare

import (
	"errors"
	"strings"
	"testing"
)

func TestStealFraction(t *testing.T) {
	a, err := readCPUTimes()
	if err != nil {
		t.Skipf("no /proc/stat: %v", err)
	}
	if a.total == 0 || a.steal > a.total {
		t.Fatalf("implausible /proc/stat cpu line: %+v", a)
	}
	for _, tc := range []struct {
		a, b cpuTimes
		err  error
		want float64
	}{
		{cpuTimes{1000, 10}, cpuTimes{2000, 60}, nil, 0.05},
		{cpuTimes{1000, 10}, cpuTimes{1000, 10}, nil, -1}, // no time passed
		{cpuTimes{1000, 10}, cpuTimes{2000, 60}, errors.New("no proc"), -1},
	} {
		if got := stealFraction(tc.a, tc.b, tc.err, nil); got != tc.want {
			t.Errorf("stealFraction(%+v, %+v, %v) = %v, want %v", tc.a, tc.b, tc.err, got, tc.want)
		}
	}
}

func TestStealLine(t *testing.T) {
	r := &Report{Runs: []Run{{Steal: 0.01}, {Steal: 0.20}, {Steal: 0.02}, {Steal: -1}}}
	line := r.stealLine()
	for _, want := range []string{"median 2.0 %", "max 20.0 %", "1 of 3 runs above 5 %"} {
		if !strings.Contains(line, want) {
			t.Errorf("steal line %q lacks %q", line, want)
		}
	}
	if got := (&Report{Runs: []Run{{Steal: -1}}}).stealLine(); got != "" {
		t.Errorf("unknown steal gave %q", got)
	}
	if got := stealNote(0.12); got != "  steal 12%" {
		t.Errorf("stealNote(0.12) = %q", got)
	}
}
