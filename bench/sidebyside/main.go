// Command sidebyside is the driver of `make bench-scale` (a): inside the
// testbed's client namespace it starts Debian's blackbox_exporter and
// mailcluster_exporter, both checking the same 11 dialogues of the real
// testbed (SMTP, IMAP and POP3 on node-a, node-b and the VIP, plus the
// liveness port of each node), and runs them in interleaved rounds: one
// /probe?cluster= for mailcluster_exporter, eleven /probe?target= for
// blackbox_exporter. It prints the CPU time each process used per round
// and their ratio, in two modes measured in the same rounds:
//
//   - plain: both stay in plain text (mailcluster_exporter with `tls: none`
//     written out on the mail services, derived from the testbed's
//     configuration; blackbox_exporter's modules never upgrade);
//   - starttls: both upgrade with STARTTLS/STLS, verify the certificate
//     against the testbed's CA and name, and continue the dialogue over TLS
//     (mailcluster_exporter as the testbed configures it).
//
// In plain mode it also measures the dialogue floor (floor.go) in the same
// rounds. bench/sidebyside.sh brings the testbed up around it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mailcluster/mailcluster_exporter/bench/internal/procstat"
)

const (
	bbAddr    = "10.213.47.1:19115"
	floorAddr = "10.213.47.1:19031"
)

// The testbed (e2e/testbed/lib.sh): nodes, VIP, mail ports, liveness port.
var (
	hosts     = []string{"10.213.47.11", "10.213.47.12", "10.213.47.10"}
	liveHosts = []string{"10.213.47.11", "10.213.47.12"}
	// mailChecks are the blackbox modules of the mail dialogues and their ports.
	mailChecks = []struct{ module, port string }{{"smtp", "25"}, {"imap", "143"}, {"pop3", "110"}}
)

const livePort = "12345"

// blackboxConfig has the dialogues of mailcluster_exporter's probes: the
// plain-text modules stop after the capabilities; the _starttls ones go on
// as mailcluster_exporter does by default when the server offers it:
// STARTTLS (STLS), the handshake verified against ca_file and server_name,
// the capabilities again over TLS. Both end by sending QUIT (LOGOUT) and
// hanging up without waiting for the reply, which decides nothing.
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
  imap:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^\\* OK"
        - send: "a1 CAPABILITY\r"
        - expect: "^a1 OK"
        - send: "a9 LOGOUT\r"
  pop3:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^\\+OK"
        - send: "CAPA\r"
        - expect: "^\\.\r?$"
        - send: "QUIT\r"
  smtp_starttls:
    prober: tcp
    timeout: 2s
    tcp:
      tls_config: {ca_file: "{{CA}}", server_name: "{{NAME}}"}
      query_response:
        - expect: "^220 "
        - send: "EHLO mailcluster-exporter.invalid\r"
        - expect: "^250 "
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO mailcluster-exporter.invalid\r"
        - expect: "^250 "
        - send: "QUIT\r"
  imap_starttls:
    prober: tcp
    timeout: 2s
    tcp:
      tls_config: {ca_file: "{{CA}}", server_name: "{{NAME}}"}
      query_response:
        - expect: "^\\* OK"
        - send: "a1 CAPABILITY\r"
        - expect: "^a1 OK"
        - send: "a2 STARTTLS\r"
        - expect: "^a2 OK"
        - starttls: true
        - send: "a3 CAPABILITY\r"
        - expect: "^a3 OK"
        - send: "a9 LOGOUT\r"
  pop3_starttls:
    prober: tcp
    timeout: 2s
    tcp:
      tls_config: {ca_file: "{{CA}}", server_name: "{{NAME}}"}
      query_response:
        - expect: "^\\+OK"
        - send: "CAPA\r"
        - expect: "^\\.\r?$"
        - send: "STLS\r"
        - expect: "^\\+OK"
        - starttls: true
        - send: "CAPA\r"
        - expect: "^\\.\r?$"
        - send: "QUIT\r"
  tcp:
    prober: tcp
    timeout: 2s
`

// mode is one way of checking the same dialogues, with its own
// mailcluster_exporter processes and blackbox_exporter modules.
type mode struct {
	name     string
	config   string // mailcluster_exporter's configuration
	suffix   string // of the blackbox modules of the mail services
	mcAddr   string
	oAddr    string
	mc, o    *exec.Cmd
	bbURLs   []string
	mcCPU    float64
	bbCPU    float64
	oCPU     float64
	mcWall   []time.Duration
	bbWall   []time.Duration
	oWall    []time.Duration
	wantTLS  bool
	mcURL    string
	otherURL string
}

func main() {
	mcBin := flag.String("exporter", "./mailcluster_exporter", "mailcluster_exporter binary")
	bbBin := flag.String("blackbox", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	mcConfig := flag.String("config", "/run/mc-e2e/client/exporter.yml", "the agentless exporter's configuration of the testbed")
	rounds := flag.Int("rounds", 400, "interleaved rounds")
	other := flag.String("compare", "", "another mailcluster_exporter build (e.g. an older commit) measured in the same rounds")
	floorServe := flag.String("floor-serve", "", "serve the dialogue floor on this address (the benchmark starts itself so)")
	flag.Parse()
	if *floorServe != "" {
		runtime.GOMAXPROCS(1)
		log.Fatal(serveFloor(*floorServe))
	}
	work, err := os.MkdirTemp("", "mc-sidebyside-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	tlsCfg, err := os.ReadFile(*mcConfig)
	if err != nil {
		log.Fatal(err)
	}
	plainCfg, caFile, serverName, err := plainConfig(tlsCfg)
	if err != nil {
		log.Fatalf("%s: %v", *mcConfig, err)
	}
	plainPath := filepath.Join(work, "exporter-plain.yml")
	if err := os.WriteFile(plainPath, plainCfg, 0o644); err != nil {
		log.Fatal(err)
	}
	bbCfg := filepath.Join(work, "blackbox.yml")
	bbText := strings.NewReplacer("{{CA}}", caFile, "{{NAME}}", serverName).Replace(blackboxConfig)
	if err := os.WriteFile(bbCfg, []byte(bbText), 0o644); err != nil {
		log.Fatal(err)
	}
	bb := start(work, "blackbox", *bbBin, "--config.file="+bbCfg, "--web.listen-address="+bbAddr, "--log.level=error")
	defer stop(bb)
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	floor := start(work, "floor", self, "-floor-serve", floorAddr)
	defer stop(floor)
	floorURL := "http://" + floorAddr + "/"
	var floorCPU float64
	var floorWall []time.Duration
	modes := []*mode{
		{name: "plain", config: plainPath, suffix: "", mcAddr: "10.213.47.1:19027", oAddr: "10.213.47.1:19028"},
		{name: "starttls", config: *mcConfig, suffix: "_starttls", mcAddr: "10.213.47.1:19029", oAddr: "10.213.47.1:19030", wantTLS: true},
	}
	for _, m := range modes {
		m.mc = start(work, "mc-"+m.name, *mcBin, "--config.file="+m.config, "--web.listen-address="+m.mcAddr, "--cluster.node=none",
			"--windows.file="+filepath.Join(work, "windows-"+m.name+".json"), "--log.level=error")
		defer stop(m.mc)
		m.mcURL = "http://" + m.mcAddr + "/probe?cluster=e2e"
		if *other != "" {
			m.o = start(work, "other-"+m.name, *other, "--config.file="+m.config, "--web.listen-address="+m.oAddr, "--cluster.node=none",
				"--windows.file="+filepath.Join(work, "windows-other-"+m.name+".json"), "--log.level=error")
			defer stop(m.o)
			m.otherURL = "http://" + m.oAddr + "/probe?cluster=e2e"
		}
		for _, h := range hosts {
			for _, s := range mailChecks {
				m.bbURLs = append(m.bbURLs, fmt.Sprintf("http://%s/probe?module=%s%s&target=%s:%s", bbAddr, s.module, m.suffix, h, s.port))
			}
		}
		for _, h := range liveHosts {
			m.bbURLs = append(m.bbURLs, fmt.Sprintf("http://%s/probe?module=tcp&target=%s:%s", bbAddr, h, livePort))
		}
	}
	procstat.WaitHTTP("http://"+bbAddr+"/-/healthy", 100)
	procstat.WaitHTTP(floorURL, 100)
	// Right after the testbed came up a dialogue may still fail: up to five tries.
	for try := 1; ; try++ {
		got := get(floorURL)
		if strings.HasPrefix(got, "floor_dialogues_succeeded 8\n") {
			break
		}
		if try == 5 {
			log.Fatalf("dialogue floor: %q, want 8 dialogues to succeed as blackbox_exporter's", got)
		}
		time.Sleep(time.Second)
	}
	for _, m := range modes {
		procstat.WaitHTTP("http://"+m.mcAddr+"/-/healthy", 100)
		if m.o != nil {
			procstat.WaitHTTP("http://"+m.oAddr+"/-/healthy", 100)
		}
	}

	// Warm up (first connections, lazy initialisation), and check that
	// both see the same: 6 dialogues up (node-a and the VIP), node-b's mail
	// services closed (standby), both liveness ports open; in starttls
	// mode the 6 that answer upgraded and verified the certificate.
	for _, m := range modes {
		bbUp := 0
		for _, u := range m.bbURLs {
			if strings.Contains(get(u), "probe_success 1") {
				bbUp++
			}
		}
		mcUp, mcVerified := count(get(m.mcURL))
		line := fmt.Sprintf("%s: blackbox_exporter %d of %d dialogues succeed; mailcluster_exporter %d services up, %d certificates verified (liveness checks are not exported)",
			m.name, bbUp, len(m.bbURLs), mcUp, mcVerified)
		if m.o != nil {
			oUp, oVerified := count(get(m.otherURL))
			line += fmt.Sprintf("; -compare build %d up, %d verified", oUp, oVerified)
		}
		fmt.Println(line)
		wantVerified := 0
		if m.wantTLS {
			wantVerified = 6
		}
		if bbUp != 8 || mcUp != 6 || mcVerified != wantVerified {
			log.Fatalf("%s: the exporters do not check the same dialogues; see the counts above", m.name)
		}
	}
	fmt.Println()

	for i := 0; i < *rounds; i++ {
		for _, m := range modes {
			if m.o != nil {
				m.oCPU += measure(m.o, &m.oWall, m.otherURL)
			}
			m.mcCPU += measure(m.mc, &m.mcWall, m.mcURL)
			m.bbCPU += measure(bb, &m.bbWall, m.bbURLs...) // sequential, as one scrape after another
			if m.name == "plain" {
				floorCPU += measure(floor, &floorWall, floorURL)
			}
		}
	}
	n := float64(*rounds)
	d := float64(len(modes[0].bbURLs))
	fmt.Printf("| %d rounds, %.0f dialogues each | CPU per cluster check ms | CPU per dialogue µs | wall p50 ms |\n", *rounds, d)
	fmt.Println("|---|---|---|---|")
	row := func(name string, cpu float64, wall []time.Duration) {
		fmt.Printf("| %s | %.2f | %.0f | %.1f |\n", name, cpu/n*1e3, cpu/n/d*1e6, p50(wall))
	}
	for _, m := range modes {
		row(fmt.Sprintf("%s: blackbox_exporter (%.0f scrapes, sequential)", m.name, d), m.bbCPU, m.bbWall)
		row(m.name+": mailcluster_exporter (one /probe?cluster=)", m.mcCPU, m.mcWall)
		if m.o != nil {
			row(m.name+": mailcluster_exporter, -compare build", m.oCPU, m.oWall)
		}
		if m.name == "plain" {
			row("plain: dialogue floor (blocking sockets, sequential, one HTTP request)", floorCPU, floorWall)
		}
	}
	fmt.Println()
	for _, m := range modes {
		fmt.Printf("%s: CPU ratio mailcluster_exporter / blackbox_exporter: %.3f", m.name, m.mcCPU/m.bbCPU)
		if m.o != nil {
			fmt.Printf("; -compare build: %.3f", m.oCPU/m.bbCPU)
		}
		fmt.Println()
	}
	fmt.Printf("plain: CPU ratio dialogue floor / blackbox_exporter: %.3f\n", floorCPU/modes[0].bbCPU)
	fmt.Println("(target, plain mode: ≤ 0.125)")
}

// measure fetches urls one after the other and returns the CPU time cmd
// used meanwhile; it appends the wall time to wall.
func measure(cmd *exec.Cmd, wall *[]time.Duration, urls ...string) float64 {
	c0 := procstat.CPUSeconds(cmd.Process.Pid)
	t0 := time.Now()
	for _, u := range urls {
		get(u)
	}
	*wall = append(*wall, time.Since(t0))
	return procstat.CPUSeconds(cmd.Process.Pid) - c0
}

// count returns the services and virtual services up, and the
// certificates verified, in a /probe answer.
func count(body string) (up, verified int) {
	for _, line := range strings.Split(body, "\n") {
		switch {
		case (strings.HasPrefix(line, "mailcluster_service_up{") || strings.HasPrefix(line, "mailcluster_virtual_service_up{")) &&
			strings.HasSuffix(line, " 1"):
			up++
		case (strings.HasPrefix(line, "mailcluster_service_tls_verified{") || strings.HasPrefix(line, "mailcluster_virtual_service_tls_verified{")) &&
			strings.HasSuffix(line, " 1"):
			verified++
		}
	}
	return up, verified
}

// plainConfig returns the testbed's configuration with `tls: none` written
// out on every SMTP, IMAP and POP3 service (never upgrade), and the CA file
// and TLS name the testbed's configuration verifies those services with.
func plainConfig(cfg []byte) (out []byte, caFile, serverName string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, "", "", err
	}
	if len(doc.Content) == 0 {
		return nil, "", "", fmt.Errorf("empty configuration")
	}
	changed := 0
	for _, cl := range seq(field(doc.Content[0], "clusters")) {
		if n := field(cl, "tls_server_name"); n != nil {
			serverName = n.Value
		}
		for _, svc := range seq(field(cl, "services")) {
			p := field(svc, "protocol")
			if p == nil || (p.Value != "smtp" && p.Value != "imap" && p.Value != "pop3") {
				continue
			}
			if ca := field(svc, "ca_file"); ca != nil {
				caFile = ca.Value
			}
			if t := field(svc, "tls"); t != nil {
				t.Value = "none"
			} else {
				svc.Content = append(svc.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Value: "tls"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "none"})
			}
			changed++
		}
	}
	if changed == 0 || caFile == "" || serverName == "" {
		return nil, "", "", fmt.Errorf("no mail service with ca_file and tls_server_name found")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(&doc); err != nil {
		return nil, "", "", err
	}
	return b.Bytes(), caFile, serverName, enc.Close()
}

// field returns the value of key in a mapping node, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seq returns the items of a sequence node (nil for anything else).
func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func p50(d []time.Duration) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2]) / 1e6
}

func start(work, name, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(work, name+".log"))
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
