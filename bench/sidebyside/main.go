// Command sidebyside is the driver of `make bench-scale` (a): inside the
// testbed's client namespace it starts Debian's blackbox_exporter and a
// mailcluster_exporter, both checking the same 11 dialogues of the real
// testbed (SMTP, IMAP and POP3 on node-a, node-b and the VIP, plus the
// liveness port of each node), and runs them in interleaved rounds: one
// /probe?cluster= for mailcluster_exporter, eleven /probe?target= for
// blackbox_exporter. It prints the CPU time each process used per round
// and their ratio. bench/sidebyside.sh brings the testbed up around it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mailcluster/mailcluster_exporter/bench/internal/procstat"
)

const (
	mcAddr    = "10.213.47.1:19027"
	otherAddr = "10.213.47.1:19028"
	bbAddr    = "10.213.47.1:19115"
)

// The testbed (e2e/testbed/lib.sh): nodes, VIP, mail ports, liveness port.
var (
	hosts     = []string{"10.213.47.11", "10.213.47.12", "10.213.47.10"}
	liveHosts = []string{"10.213.47.11", "10.213.47.12"}
)

const blackboxConfig = `modules:
  smtp:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^220 "
        - send: "EHLO mailcluster-exporter.invalid\r"
        - expect: "^250 "
        - send: "QUIT\r"
        - expect: "^221"
  imap:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^\\* OK"
        - send: "a1 CAPABILITY\r"
        - expect: "^a1 OK"
        - send: "a2 LOGOUT\r"
        - expect: "^a2 OK"
  pop3:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^\\+OK"
        - send: "CAPA\r"
        - expect: "^\\.\r?$"
        - send: "QUIT\r"
        - expect: "^\\+OK"
  tcp:
    prober: tcp
    timeout: 2s
`

func main() {
	mcBin := flag.String("exporter", "./mailcluster_exporter", "mailcluster_exporter binary")
	bbBin := flag.String("blackbox", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	mcConfig := flag.String("config", "/run/mc-e2e/client/exporter.yml", "the agentless exporter's configuration of the testbed")
	rounds := flag.Int("rounds", 400, "interleaved rounds")
	other := flag.String("compare", "", "another mailcluster_exporter build (e.g. an older commit) measured in the same rounds")
	flag.Parse()
	work, err := os.MkdirTemp("", "mc-sidebyside-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	bbCfg := filepath.Join(work, "blackbox.yml")
	if err := os.WriteFile(bbCfg, []byte(blackboxConfig), 0o644); err != nil {
		log.Fatal(err)
	}
	mc := start(work, *mcBin, "--config.file="+*mcConfig, "--web.listen-address="+mcAddr, "--cluster.node=none",
		"--windows.file="+filepath.Join(work, "windows.json"), "--log.level=error")
	defer stop(mc)
	bb := start(work, *bbBin, "--config.file="+bbCfg, "--web.listen-address="+bbAddr, "--log.level=error")
	defer stop(bb)
	procstat.WaitHTTP("http://"+mcAddr+"/-/healthy", 100)
	procstat.WaitHTTP("http://"+bbAddr+"/-/healthy", 100)
	var oc *exec.Cmd
	if *other != "" {
		oc = start(work, *other, "--config.file="+*mcConfig, "--web.listen-address="+otherAddr, "--cluster.node=none",
			"--windows.file="+filepath.Join(work, "windows-other.json"), "--log.level=error")
		defer stop(oc)
		procstat.WaitHTTP("http://"+otherAddr+"/-/healthy", 100)
	}

	var bbURLs []string
	for _, h := range hosts {
		for _, m := range []struct{ module, port string }{{"smtp", "25"}, {"imap", "143"}, {"pop3", "110"}} {
			bbURLs = append(bbURLs, fmt.Sprintf("http://%s/probe?module=%s&target=%s:%s", bbAddr, m.module, h, m.port))
		}
	}
	for _, h := range liveHosts {
		bbURLs = append(bbURLs, fmt.Sprintf("http://%s/probe?module=tcp&target=%s:12345", bbAddr, h))
	}
	mcURL := "http://" + mcAddr + "/probe?cluster=e2e"
	// Warm up both (first connections, lazy initialisation), and check
	// that both see the same: 6 dialogues up (node-a and VIP), node-b's
	// mail services closed (standby), both liveness ports open.
	bbUp := 0
	for _, u := range bbURLs {
		if strings.Contains(get(u), "probe_success 1") {
			bbUp++
		}
	}
	mcUp := 0
	for _, line := range strings.Split(get(mcURL), "\n") {
		if (strings.HasPrefix(line, "mailcluster_service_up{") || strings.HasPrefix(line, "mailcluster_virtual_service_up{")) &&
			strings.HasSuffix(line, " 1") {
			mcUp++
		}
	}
	fmt.Printf("blackbox_exporter: %d of %d dialogues succeed; mailcluster_exporter: %d services up (liveness checks are not exported)\n\n", bbUp, len(bbURLs), mcUp)

	otherURL := "http://" + otherAddr + "/probe?cluster=e2e"
	if oc != nil {
		get(otherURL)
	}
	var mcCPU, bbCPU, oCPU float64
	var mcWall, bbWall, oWall []time.Duration
	for i := 0; i < *rounds; i++ {
		if oc != nil {
			c0 := procstat.CPUSeconds(oc.Process.Pid)
			t0 := time.Now()
			get(otherURL)
			oWall = append(oWall, time.Since(t0))
			oCPU += procstat.CPUSeconds(oc.Process.Pid) - c0
		}
		c0 := procstat.CPUSeconds(mc.Process.Pid)
		t0 := time.Now()
		get(mcURL)
		mcWall = append(mcWall, time.Since(t0))
		mcCPU += procstat.CPUSeconds(mc.Process.Pid) - c0

		c0 = procstat.CPUSeconds(bb.Process.Pid)
		t0 = time.Now()
		for _, u := range bbURLs { // sequential, as one scrape after another
			get(u)
		}
		bbWall = append(bbWall, time.Since(t0))
		bbCPU += procstat.CPUSeconds(bb.Process.Pid) - c0
	}
	n := float64(*rounds)
	fmt.Printf("| %d rounds, %d dialogues each | CPU per cluster check ms | CPU per dialogue µs | wall p50 ms |\n", *rounds, len(bbURLs))
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| blackbox_exporter (%d scrapes, sequential) | %.2f | %.0f | %.1f |\n", len(bbURLs), bbCPU/n*1e3, bbCPU/n/float64(len(bbURLs))*1e6, p50(bbWall))
	fmt.Printf("| mailcluster_exporter (one /probe?cluster=) | %.2f | %.0f | %.1f |\n", mcCPU/n*1e3, mcCPU/n/float64(len(bbURLs))*1e6, p50(mcWall))
	if oc != nil {
		fmt.Printf("| mailcluster_exporter, -compare build | %.2f | %.0f | %.1f |\n", oCPU/n*1e3, oCPU/n/float64(len(bbURLs))*1e6, p50(oWall))
	}
	fmt.Printf("\nCPU ratio mailcluster_exporter / blackbox_exporter: %.3f (target ≤ 0.125)\n", mcCPU/bbCPU)
	if oc != nil {
		fmt.Printf("CPU ratio of the -compare build / blackbox_exporter: %.3f\n", oCPU/bbCPU)
	}
}

func p50(d []time.Duration) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2]) / 1e6
}

func start(work, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(work, filepath.Base(bin)+".log"))
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		log.Fatalf("start %s: %v", bin, err)
	}
	return cmd
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_, _ = cmd.Process.Wait()
}

func get(u string) string {
	resp, err := http.Get(u)
	if err != nil {
		log.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
