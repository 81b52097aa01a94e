// Package procstat holds what the benchmark drivers share: the CPU time a
// process has used (from /proc) and waiting for a server to answer.
package procstat

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUSeconds is the user+system CPU time of a process in seconds
// (/proc/PID/stat, in USER_HZ ticks of 1/100 s).
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// WaitHTTP polls u every 100 ms until it answers 200, at most attempts
// times, and exits the driver if it never does.
func WaitHTTP(u string, attempts int) {
	for i := 0; i < attempts; i++ {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("%s never answered", u)
}
