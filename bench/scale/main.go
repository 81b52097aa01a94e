// Command scale is the driver of `make bench-scale` (b) and (c): it runs
// inside a private network namespace (bench/scale.sh creates it), starts
// the fake mail server, the exporter and a real Prometheus loaded with the
// bundled rules, and prints what a newcomer would measure:
//
//   - full collections of N clusters (GET /metrics): wall, CPU, RSS, the
//     share of green services as the exporter saw them;
//   - Prometheus scraping /probe?cluster= for every cluster: scrape
//     durations, rule group evaluation times, the share of green services
//     and clusters as the rules computed them;
//   - a soak of many /probe scrapes: goroutines and RSS over time.
//
// It is a benchmark tool, not a test: nothing here runs in `make test`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailcluster/mailcluster_exporter/bench/internal/procstat"
)

const exporterAddr = "127.0.0.1:19025"
const promAddr = "127.0.0.1:19090"

var services = []string{"smtp", "submission", "imap", "pop3", "webmail", "autoconfig"}

func main() {
	exporterBin := flag.String("exporter", "./mailcluster_exporter", "exporter binary")
	fakeBin := flag.String("fakemail", "", "fake mail server binary")
	promBin := flag.String("prometheus", "/usr/bin/prometheus", "Prometheus binary (\"\" skips the Prometheus part)")
	promArgs := flag.String("prometheus-args", "", "more Prometheus flags, separated by spaces (e.g. --enable-feature=concurrent-rule-eval)")
	rulesDir := flag.String("rules", "rules", "directory of the bundled rules")
	clusters := flag.Int("clusters", 1000, "clusters of 2 nodes × 6 services")
	collections := flag.Int("collections", 5, "full /metrics collections to time")
	soak := flag.Int("soak", 10000, "/probe scrapes in the soak (0: none)")
	promWait := flag.Duration("prometheus-time", 75*time.Second, "how long Prometheus scrapes and evaluates")
	maxConc := flag.Int("max-concurrency", 0, "global.max_concurrency (0: the default)")
	work := flag.String("work", "", "work directory (default: a new temporary one)")
	flag.Parse()
	if *work == "" {
		d, err := os.MkdirTemp("", "mc-bench-scale-")
		if err != nil {
			log.Fatal(err)
		}
		*work = d
		defer os.RemoveAll(d)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs { // stop what we started, by pid
			_ = p.Process.Signal(syscall.SIGTERM)
			_, _ = p.Process.Wait()
		}
	}()
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		logf, err := os.Create(filepath.Join(*work, filepath.Base(name)+".log"))
		if err != nil {
			log.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			log.Fatalf("start %s: %v", name, err)
		}
		procs = append(procs, cmd)
		return cmd
	}

	cfgFile := filepath.Join(*work, "mailcluster.yml")
	if err := os.WriteFile(cfgFile, []byte(exporterConfig(*clusters, *maxConc)), 0o644); err != nil {
		log.Fatal(err)
	}
	start(*fakeBin)
	waitTCP("127.0.0.1:25")
	exp := start(*exporterBin, "--config.file="+cfgFile, "--web.listen-address="+exporterAddr,
		"--windows.file="+filepath.Join(*work, "windows.json"), "--log.level=error", "--cluster.node=bench")
	procstat.WaitHTTP("http://"+exporterAddr+"/-/healthy", 600)
	pid := exp.Process.Pid

	fmt.Printf("## %d clusters × 2 nodes × %d services (%d dialogues per full collection)\n\n",
		*clusters, len(services), *clusters*(len(services)*3+2))
	fmt.Println("| collection | wall s | CPU s | CPU per dialogue µs | RSS MB | services green | not reported | slow |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for i := 0; i <= *collections; i++ {
		cpu0 := procstat.CPUSeconds(pid)
		t0 := time.Now()
		body := get("http://"+exporterAddr+"/metrics", 10)
		wall := time.Since(t0)
		cpu := procstat.CPUSeconds(pid) - cpu0
		g := greenShare(body, *clusters)
		label := strconv.Itoa(i)
		if i == 0 {
			label = "0 (warm-up)"
		}
		fmt.Printf("| %s | %.2f | %.2f | %.0f | %.0f | %.2f %% | %d | %d |\n", label, wall.Seconds(), cpu,
			cpu/float64(*clusters*(len(services)*3+2))*1e6, rssMB(pid), g.share()*100, g.missing, g.slow)
	}
	last := get("http://"+exporterAddr+"/metrics", 10)
	fmt.Printf("\npeak RSS (VmHWM) %.0f MB; %s\n\n", hwmMB(pid), goStats(last))

	if *promBin != "" {
		runPrometheus(start, *promBin, strings.Fields(*promArgs), *rulesDir, *work, *clusters, *promWait, pid)
	}
	if *soak > 0 {
		soakRun(*soak, *clusters, pid)
	}
}

func exporterConfig(n, maxConc int) string {
	var b strings.Builder
	b.WriteString("global:\n  probe_timeout: 5s\n")
	if maxConc > 0 {
		fmt.Fprintf(&b, "  max_concurrency: %d\n", maxConc)
	}
	b.WriteString("clusters:\n")
	for i := 0; i < n; i++ {
		x, y := 10+i/200, i%200
		fmt.Fprintf(&b, `  - name: c%04d
    kind: active_standby
    virtual_address: 127.%d.%d.10
    preferred_active: a
    nodes:
      - {name: a, address: 127.%d.%d.1}
      - {name: b, address: 127.%d.%d.2}
    services:
      - {name: smtp, protocol: smtp, port: 25}
      - {name: submission, protocol: smtp, port: 587, tls: none}
      - {name: imap, protocol: imap, port: 143}
      - {name: pop3, protocol: pop3, port: 110}
      - {name: webmail, protocol: http, port: 80}
      - {name: autoconfig, protocol: http, port: 8080}
    liveness:
      - {protocol: tcp, port: 22}
    sources:
      - type: service
`, i, x, y, x, y, x, y)
	}
	return b.String()
}

type green struct{ want, green, missing, slow int }

func (g green) share() float64 {
	if g.want == 0 {
		return 0
	}
	return float64(g.green) / float64(g.want)
}

// greenShare counts, over the services that should answer (node a and the
// virtual address of every cluster), those reported up within the slow
// threshold (1s): what the rules will call green.
func greenShare(body string, clusters int) green {
	up, dur := map[string]float64{}, map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		name, labels, v, ok := sample(line)
		if !ok {
			continue
		}
		switch name {
		case "mailcluster_service_up", "mailcluster_virtual_service_up":
			if name == "mailcluster_virtual_service_up" || strings.Contains(labels, `node="a"`) {
				up[labels] = v
			}
		case "mailcluster_service_probe_duration_seconds", "mailcluster_virtual_service_probe_duration_seconds":
			dur[labels] = v
		}
	}
	g := green{want: clusters * len(services) * 2}
	for l, v := range up {
		if v == 1 && dur[l] <= 1 {
			g.green++
		}
		if v == 1 && dur[l] > 1 {
			g.slow++
		}
	}
	g.missing = g.want - len(up)
	return g
}

func sample(line string) (name, labels string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return
	}
	head := line[:sp]
	if i := strings.IndexByte(head, '{'); i >= 0 {
		return head[:i], head[i:], v, true
	}
	return head, "", v, true
}

func goStats(body string) string {
	var parts []string
	for _, line := range strings.Split(body, "\n") {
		name, _, v, ok := sample(line)
		if !ok {
			continue
		}
		switch name {
		case "go_goroutines":
			parts = append(parts, fmt.Sprintf("goroutines %.0f", v))
		case "go_memstats_heap_inuse_bytes":
			parts = append(parts, fmt.Sprintf("heap in use %.0f MB", v/1e6))
		case "go_memstats_sys_bytes":
			parts = append(parts, fmt.Sprintf("Go sys %.0f MB", v/1e6))
		}
	}
	return strings.Join(parts, ", ")
}

func runPrometheus(start func(string, ...string) *exec.Cmd, bin string, extraArgs []string, rulesDir, work string, clusters int, wait time.Duration, exporterPid int) {
	var targets strings.Builder
	for i := 0; i < clusters; i++ {
		fmt.Fprintf(&targets, "          - c%04d\n", i)
	}
	rules, _ := filepath.Abs(rulesDir)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 15s
  scrape_timeout: 10s
  evaluation_interval: 15s
rule_files:
  - %s/mailcluster.rules.yml
  - %s/mailcluster.alerts.yml
scrape_configs:
  - job_name: mailcluster
    metrics_path: /probe
    static_configs:
      - targets:
%s    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_cluster
      - source_labels: [__param_cluster]
        target_label: instance
      - target_label: __address__
        replacement: %s
`, rules, rules, targets.String(), exporterAddr)
	cfgFile := filepath.Join(work, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		log.Fatal(err)
	}
	p := start(bin, append([]string{"--config.file=" + cfgFile, "--storage.tsdb.path=" + filepath.Join(work, "tsdb"),
		"--web.listen-address=" + promAddr, "--log.level=warn"}, extraArgs...)...)
	procstat.WaitHTTP("http://"+promAddr+"/-/ready", 600)
	cpu0, promCPU0 := procstat.CPUSeconds(exporterPid), procstat.CPUSeconds(p.Process.Pid)
	t0 := time.Now()
	evals := map[string][]float64{}
	ruleTimes := map[string]float64{} // summed over the evaluations seen
	for time.Since(t0) < wait {
		time.Sleep(15 * time.Second)
		var r struct {
			Data struct {
				Groups []struct {
					Name           string  `json:"name"`
					EvaluationTime float64 `json:"evaluationTime"`
					LastEvaluation string  `json:"lastEvaluation"`
					Rules          []struct {
						Name           string            `json:"name"`
						Labels         map[string]string `json:"labels"`
						EvaluationTime float64           `json:"evaluationTime"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(get("http://"+promAddr+"/api/v1/rules", 0)), &r); err != nil {
			log.Fatalf("prometheus rules API: %v", err)
		}
		for _, g := range r.Data.Groups {
			if !strings.HasPrefix(g.LastEvaluation, "0001") {
				evals[g.Name] = append(evals[g.Name], g.EvaluationTime)
				for _, rule := range g.Rules {
					name := rule.Name
					for _, k := range []string{"reason", "gate"} {
						if v := rule.Labels[k]; v != "" {
							name += "{" + k + "=" + v + "}"
						}
					}
					ruleTimes[name] += rule.EvaluationTime
				}
			}
		}
	}
	cpu, promCPU := procstat.CPUSeconds(exporterPid)-cpu0, procstat.CPUSeconds(p.Process.Pid)-promCPU0
	fmt.Printf("## Prometheus %s %s scraping /probe?cluster= for %d clusters every 15 s, bundled rules every 15 s (%s)\n\n",
		promVersion(bin), strings.Join(extraArgs, " "), clusters, wait)
	fmt.Printf("exporter CPU %.1f %% of one core over the run; RSS %.0f MB\n", cpu/time.Since(t0).Seconds()*100, rssMB(exporterPid))
	fmt.Printf("Prometheus CPU %.1f %% of one core over the run (scraping, rules, storage)\n\n", promCPU/time.Since(t0).Seconds()*100)
	fmt.Println("| rule group | evaluations seen | evaluation time s (each) |")
	fmt.Println("|---|---|---|")
	names := make([]string, 0, len(evals))
	for n := range evals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var s []string
		for _, v := range evals[n] {
			s = append(s, fmt.Sprintf("%.3f", v))
		}
		fmt.Printf("| %s | %d | %s |\n", n, len(evals[n]), strings.Join(s, " "))
	}
	fmt.Println()
	type rt struct {
		name string
		t    float64
	}
	var top []rt
	for n, t := range ruleTimes {
		top = append(top, rt{n, t})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].t > top[j].t })
	fmt.Println("most expensive rules (evaluation time summed over the evaluations seen):")
	for i := 0; i < len(top) && i < 25; i++ {
		fmt.Printf("- %s %.3f s\n", top[i].name, top[i].t)
	}
	fmt.Println()
	for _, q := range []struct{ what, expr string }{
		{"scrape duration p50 s", `quantile(0.5, scrape_duration_seconds{job="mailcluster"})`},
		{"scrape duration p99 s", `quantile(0.99, scrape_duration_seconds{job="mailcluster"})`},
		{"targets up", `sum(up{job="mailcluster"})`},
		{"services green (nodes that should serve)", `count(mailcluster:service_status:code == 1 and on(cluster, node) (mailcluster:node_should_serve:bool == 1)) / count(mailcluster:service_status:code and on(cluster, node) (mailcluster:node_should_serve:bool == 1))`},
		{"virtual services green", `count(mailcluster:virtual_service_status:code == 1) / count(mailcluster:virtual_service_status:code)`},
		{"clusters green (wall)", `count(mailcluster:status:code == 1) / count(mailcluster:status:code)`},
	} {
		fmt.Printf("- %s: %s\n", q.what, query(q.expr))
	}
	fmt.Println()
	_ = p.Process.Signal(syscall.SIGTERM)
}

func promVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return f[2]
	}
	return "?"
}

func query(expr string) string {
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	body := get("http://"+promAddr+"/api/v1/query?query="+url.QueryEscape(expr), 0)
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) < 2 {
		return "no result"
	}
	return fmt.Sprint(r.Data.Result[0].Value[1])
}

// soakRun scrapes /probe?cluster= n times, four at a time, and samples
// goroutines and RSS ten times along the way.
func soakRun(n, clusters, pid int) {
	fmt.Printf("## soak: %d /probe scrapes, 4 at a time\n\n", n)
	fmt.Println("| scrapes done | goroutines | RSS MB | heap in use MB |")
	fmt.Println("|---|---|---|---|")
	var next atomic.Int64
	var failed atomic.Int64
	sampleAt := func(done int64) {
		body := get("http://"+exporterAddr+"/metrics?soak", 10) // self metrics (a full collection too)
		g, h := 0.0, 0.0
		for _, line := range strings.Split(body, "\n") {
			name, _, v, ok := sample(line)
			if ok && name == "go_goroutines" {
				g = v
			}
			if ok && name == "go_memstats_heap_inuse_bytes" {
				h = v / 1e6
			}
		}
		fmt.Printf("| %d | %.0f | %.0f | %.0f |\n", done, g, rssMB(pid), h)
	}
	sampleAt(0)
	t0 := time.Now()
	step := int64(n / 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				resp, err := http.Get(fmt.Sprintf("http://%s/probe?cluster=c%04d", exporterAddr, int(i)%clusters))
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if step > 0 && i%step == 0 {
					mu.Lock()
					sampleAt(i)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("\n%d scrapes in %.0f s, %d failed\n", n, time.Since(t0).Seconds(), failed.Load())
}

func get(u string, timeoutSeconds int) string {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if timeoutSeconds > 0 {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.Itoa(timeoutSeconds))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		log.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	return string(b)
}

func waitTCP(addr string) {
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("fake mail server not listening (%s)", addr)
}

func statusMB(pid int, key string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func rssMB(pid int) float64 { return statusMB(pid, "VmRSS") }
func hwmMB(pid int) float64 { return statusMB(pid, "VmHWM") }
