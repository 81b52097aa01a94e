package main

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const testbedConfig = `
global:
  probe_timeout: 2s
clusters:
  - name: e2e
    kind: active_standby
    tls_server_name: mail.e2e.test   # certificates name the service
    nodes:
      - {name: node-a, address: 10.213.47.11}
    services:
      - name: smtp
        protocol: smtp
        port: 25
        ca_file: /run/mc-e2e/tls/ca.pem
      - name: imap
        protocol: imap
        tls: starttls
        ca_file: /run/mc-e2e/tls/ca.pem
      - name: web
        protocol: https
    liveness:
      - {protocol: tcp, port: 12345}
`

// The plain configuration never upgrades the mail services and keeps
// everything else; the CA and name are those the testbed verifies with.
func TestPlainConfig(t *testing.T) {
	out, ca, name, err := plainConfig([]byte(testbedConfig))
	if err != nil {
		t.Fatal(err)
	}
	if ca != "/run/mc-e2e/tls/ca.pem" || name != "mail.e2e.test" {
		t.Errorf("ca %q, name %q", ca, name)
	}
	var cfg struct {
		Global   map[string]string
		Clusters []struct {
			Name     string
			Services []map[string]any
			Liveness []map[string]any
		}
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cfg.Global["probe_timeout"] != "2s" || len(cfg.Clusters) != 1 || len(cfg.Clusters[0].Liveness) != 1 {
		t.Errorf("configuration not kept:\n%s", out)
	}
	tls := map[string]any{}
	for _, s := range cfg.Clusters[0].Services {
		tls[s["name"].(string)] = s["tls"]
	}
	if tls["smtp"] != "none" || tls["imap"] != "none" || tls["web"] != nil {
		t.Errorf("tls per service = %v, want none on smtp and imap only", tls)
	}
	if _, _, _, err := plainConfig([]byte(strings.ReplaceAll(testbedConfig, "ca_file", "x_file"))); err == nil {
		t.Error("a configuration without ca_file was accepted")
	}
}
