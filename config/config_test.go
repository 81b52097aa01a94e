package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Tokyo even on a host without zoneinfo

	"github.com/prometheus/common/model"
)

// y drops the leading newline of a raw string literal, so that line 1 of
// the YAML is the line right after the opening backquote.
func y(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// errorLines returns each problem of a Load error on its own line.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	var es Errors
	var e *Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &e):
		es = Errors{e}
	default:
		t.Fatalf("error is %T, want config.Errors or *config.Error: %v", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		if e.File != "test.yml" {
			t.Errorf("error %q: File = %q, want test.yml", e.Error(), e.File)
		}
		out[i] = e.Error()
	}
	return out
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want is the start of the one expected error line: "file:LINE: field: message".
		want string
		// more: other errors may accompany it.
		more bool
	}{
		{
			name: "unknown top-level key",
			yaml: `
global:
  probe_timeout: 3s
clustrs: []
`,
			want: `test.yml:3: clustrs: unknown field "clustrs" (allowed: clusters, global)`,
		},
		{
			name: "tls_server_name is an address",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    tls_server_name: 192.0.2.10
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
    services: [smtp]
`,
			want: `test.yml:4: clusters[0].tls_server_name: must be the host name clients use (e.g. mail.example.com), not an address: "192.0.2.10"`,
		},
		{
			name: "service tls_server_name not a host name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
    services:
      - name: imaps
        tls_server_name: "mail example com"
`,
			want: `test.yml:9: clusters[0].services[0].tls_server_name: not a host name: "mail example com"`,
		},
		{
			name: "unknown global key",
			yaml: `
global:
  probe_timeout: 3s
  probe_timeuot: 3s
`,
			want: `test.yml:3: global.probe_timeuot: unknown field "probe_timeuot" (allowed: helo_name, max_concurrency, max_output_bytes, probe_timeout)`,
		},
		{
			name: "unknown key in a service mapping",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - smtp
      - name: imap
        prot: imap
`,
			want: `test.yml:12: clusters[0].services[1].prot: unknown field "prot" (allowed: `,
		},
		{
			name: "unknown key in a liveness mapping",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    liveness:
      - protocol: tcp
        prot: 22
`,
			want: `test.yml:11: clusters[0].liveness[0].prot: unknown field "prot"`,
		},
		{
			name: "unknown key in a source block",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: marker
        marker:
          file: /var/spool/marker
          maxlag: 5m
`,
			want: `test.yml:13: clusters[0].sources[0].marker.maxlag: unknown field "maxlag" (allowed: file, max_lag, write)`,
		},
		{
			name: "unknown key in an inline command block",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: command
        command:
          argv: [/usr/local/bin/status]
          shell: true
`,
			want: `test.yml:13: clusters[0].sources[0].command.shell: unknown field "shell" (allowed: argv, env, provides, timeout)`,
		},
		{
			name: "unknown fact family in provides",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: command
        command:
          argv: [/usr/local/bin/status]
          provides: [role, peer]
`,
			want: `test.yml:13: clusters[0].sources[0].command.provides[1]: must be role or sync, got "peer"`,
		},
		{
			name: "unknown key in a source",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: marker
        kind: marker
`,
			want: `test.yml:11: clusters[0].sources[0].kind: unknown field "kind"`,
		},
		{
			name: "unknown key in a node",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        adress: 192.0.2.12
`,
			want: `test.yml:8: clusters[0].nodes[1].adress: unknown field "adress" (allowed: address, name, priority, role, sync_address)`,
		},
		{
			name: "unknown key in an update window",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sunday
        begin: "02:00"
`,
			want: `test.yml:11: clusters[0].update_windows[0].begin: unknown field "begin"`,
		},
		{
			name: "node as a scalar",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - a
      - b
`,
			want: `test.yml:5: clusters[0].nodes[0]: expected a mapping`,
			more: true,
		},
		{
			name: "string for priority",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        priority: high
      - name: b
        address: 192.0.2.12
`,
			want: "test.yml:7: clusters[0].nodes[0].priority: cannot unmarshal !!str `high` into int",
		},
		{
			name: "string for a port in a flow mapping",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - {name: smtp, port: twentyfive}
`,
			want: "test.yml:10: clusters[0].services[0]: cannot unmarshal !!str `twentyfive` into int",
		},
		{
			name: "bad kind",
			yaml: `
clusters:
  - name: c1
    kind: cluster
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:3: clusters[0].kind: must be active_standby, failover_group or master_slave, got "cluster"`,
		},
		{
			name: "active_standby with one node",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
`,
			want: `test.yml:4: clusters[0].nodes: a active_standby cluster has 2 to 2 nodes, got 1`,
		},
		{
			name: "active_standby with three nodes",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
      - name: c
        address: 192.0.2.13
`,
			want: `test.yml:4: clusters[0].nodes: a active_standby cluster has 2 to 2 nodes, got 3`,
		},
		{
			name: "failover_group with five nodes",
			yaml: `
clusters:
  - name: c1
    kind: failover_group
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
      - {name: c, address: 192.0.2.13}
      - {name: d, address: 192.0.2.14}
      - {name: e, address: 192.0.2.15}
`,
			want: `test.yml:4: clusters[0].nodes: a failover_group cluster has 2 to 4 nodes, got 5`,
		},
		{
			name: "master_slave without nodes",
			yaml: `
clusters:
  - name: c1
    kind: master_slave
`,
			want: `test.yml:2: clusters[0].nodes: a master_slave cluster has 2 to 16 nodes, got 0`,
		},
		{
			name: "duplicate node name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: a
        address: 192.0.2.12
`,
			want: `test.yml:7: clusters[0].nodes[1].name: node "a" is defined twice`,
		},
		{
			name: "duplicate service name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - smtp
      - imap
      - smtp
`,
			want: `test.yml:12: clusters[0].services[2].name: service "smtp" is defined twice`,
		},
		{
			name: "duplicate source name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: marker
        marker: {file: /a}
      - type: marker
        marker: {file: /b}
`,
			want: `test.yml:12: clusters[0].sources[1].name: source "marker" is defined twice in this cluster; give one a name`,
		},
		{
			name: "duplicate cluster name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
  - name: c1
    kind: active_standby
    nodes:
      - {name: a, address: 192.0.2.21}
      - {name: b, address: 192.0.2.22}
`,
			want: `test.yml:7: clusters[1].name: cluster "c1" is defined twice`,
		},
		{
			name: "duplicate priorities",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        priority: 1
      - name: b
        address: 192.0.2.12
        priority: 1
`,
			want: `test.yml:10: clusters[0].nodes[1].priority: priority 1 is also given to node "a"`,
		},
		{
			name: "negative priority",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        priority: -1
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:7: clusters[0].nodes[0].priority: must be 1 or more (1 = first choice), got -1`,
		},
		{
			name: "address with port",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12:25
`,
			want: `test.yml:8: clusters[0].nodes[1].address: must be an IP address or host name without port, got "192.0.2.12:25"`,
		},
		{
			name: "host name with port",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: mx1.example.com:25
      - name: b
        address: mx2.example.com
`,
			want: `test.yml:6: clusters[0].nodes[0].address: must be an IP address or host name without port, got "mx1.example.com:25"`,
		},
		{
			name: "missing address",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
`,
			want: `test.yml:7: clusters[0].nodes[1].address: must be an IP address or host name without port, got ""`,
		},
		{
			name: "bad sync_address",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        sync_address: 10.0.0.1:7789
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:7: clusters[0].nodes[0].sync_address: must be an IP address or host name without port, got "10.0.0.1:7789"`,
		},
		{
			name: "bad virtual_address",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    virtual_address: 192.0.2.10/24
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:4: clusters[0].virtual_address: must be an IP address or host name without port, got "192.0.2.10/24"`,
		},
		{
			name: "preferred_active naming no node",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    preferred_active: c
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:4: clusters[0].preferred_active: names no node of this cluster: "c"`,
		},
		{
			name: "master_slave with two masters",
			yaml: `
clusters:
  - name: c1
    kind: master_slave
    nodes:
      - name: a
        address: 192.0.2.11
        role: master
      - name: b
        address: 192.0.2.12
        role: master
`,
			want: `test.yml:4: clusters[0].nodes: a master_slave cluster has exactly one master, got 2`,
		},
		{
			name: "master_slave without master",
			yaml: `
clusters:
  - name: c1
    kind: master_slave
    nodes:
      - name: a
        address: 192.0.2.11
        role: slave
      - name: b
        address: 192.0.2.12
        role: slave
`,
			want: `test.yml:4: clusters[0].nodes: a master_slave cluster has exactly one master, got 0`,
		},
		{
			name: "master_slave node without role",
			yaml: `
clusters:
  - name: c1
    kind: master_slave
    nodes:
      - name: a
        address: 192.0.2.11
        role: master
      - name: b
        address: 192.0.2.12
        role: primary
`,
			want: `test.yml:10: clusters[0].nodes[1].role: a master_slave node needs role master or slave, got "primary"`,
		},
		{
			name: "role on an active_standby node",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        role: master
      - name: b
        address: 192.0.2.12
`,
			want: `test.yml:7: clusters[0].nodes[0].role: only master_slave clusters configure roles (the role of a active_standby node is observed)`,
		},
		{
			name: "unknown protocol by name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - smtp
      - gopher
`,
			want: `test.yml:11: clusters[0].services[1].protocol: unknown protocol "gopher" (known: smtp, `,
		},
		{
			name: "unknown protocol",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - name: mail
        protocol: esmtp
`,
			want: `test.yml:11: clusters[0].services[0].protocol: unknown protocol "esmtp"`,
		},
		{
			name: "bad tls",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - name: imap
        tls: ssl
`,
			want: `test.yml:11: clusters[0].services[0].tls: must be none, starttls or implicit, got "ssl"`,
		},
		{
			name: "starttls on https",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - name: webmail
        protocol: https
        tls: starttls
`,
			want: `test.yml:12: clusters[0].services[0].tls: protocol https has no STARTTLS; use implicit or none`,
		},
		{
			name: "port out of range",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - name: smtp
        port: 70000
`,
			want: `test.yml:11: clusters[0].services[0].port: must be 1-65535, got 70000`,
		},
		{
			name: "tcp liveness without port",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    liveness:
      - protocol: tcp
`,
			want: `test.yml:10: clusters[0].liveness[0].port: must be 1-65535, got 0`,
		},
		{
			name: "dns without query name",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - smtp
      - name: dns
        dns_transport: tcp
`,
			want: `test.yml:11: clusters[0].services[1].dns_query_name: required for a dns service`,
		},
		{
			name: "unknown source type",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: nagios
`,
			want: `test.yml:10: clusters[0].sources[0].type: unknown source type "nagios" (known: service, vip_local, `,
		},
		{
			name: "block not matching the type",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: marker
        marker:
          file: /var/spool/marker
        http:
          url: http://127.0.0.1/status
`,
			want: `test.yml:13: clusters[0].sources[0].http: block "http" does not belong to a source of type "marker"`,
		},
		{
			name: "keepalived without files",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: keepalived
        keepalived:
          instance: VI_1
`,
			want: `test.yml:11: clusters[0].sources[0].keepalived: needs state_file, data_file or json_file`,
		},
		{
			name: "keepalived without block",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: keepalived
`,
			want: `test.yml:10: clusters[0].sources[0].keepalived: needs state_file, data_file or json_file`,
		},
		{
			name: "http source URL with credentials",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: http
        http:
          url: http://monitor:s3cret@127.0.0.1/status
`,
			want: `test.yml:12: clusters[0].sources[0].http.url: must not contain credentials; use username and password_file`,
		},
		{
			name: "http source URL not http",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: http
        http:
          url: ftp://127.0.0.1/status
`,
			want: `test.yml:12: clusters[0].sources[0].http.url: must be an http:// or https:// URL, got "ftp://127.0.0.1/status"`,
		},
		{
			name: "command source without argv",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: command
        command:
          env: [FOO=bar]
`,
			want: `test.yml:11: clusters[0].sources[0].command.argv: required`,
		},
		{
			name: "command env without =",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: command
        command:
          argv: [/bin/status]
          env: [FOO]
`,
			want: `test.yml:13: clusters[0].sources[0].command.env: must be KEY=value, got "FOO"`,
		},
		{
			name: "version regexp without group",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: version
        version:
          command:
            argv: [postconf, -h, mail_version]
          regexp: 'v\d+\.\d+'
`,
			want: `test.yml:14: clusters[0].sources[0].version.regexp: needs one capturing group for the version`,
		},
		{
			name: "version regexp invalid",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    sources:
      - type: version
        version:
          command:
            argv: [postconf, -h, mail_version]
          regexp: '(v\d+'
`,
			want: `test.yml:14: clusters[0].sources[0].version.regexp: invalid: `,
		},
		{
			name: "bad weekday",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sundy
        start: "02:00"
        duration: 2h
`,
			want: `test.yml:10: clusters[0].update_windows[0].weekday: must be a weekday name such as sunday, got "sundy"`,
		},
		{
			name: "bad start",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: Sunday
        start: "25:00"
        duration: 2h
`,
			want: `test.yml:11: clusters[0].update_windows[0].start: must be HH:MM (24h), got "25:00"`,
		},
		{
			name: "missing duration",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sunday
        start: "02:00"
`,
			want: `test.yml:10: clusters[0].update_windows[0].duration: must be between 1m and 7d, got 0s`,
		},
		{
			name: "duration shorter than a minute",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sunday
        start: "02:00"
        duration: 30s
`,
			want: `test.yml:12: clusters[0].update_windows[0].duration: must be between 1m and 7d, got 30s`,
		},
		{
			name: "duration longer than a week",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sunday
        start: "02:00"
        duration: 8d
`,
			want: `test.yml:12: clusters[0].update_windows[0].duration: must be between 1m and 7d, got 8d`,
		},
		{
			name: "bad time zone",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    update_windows:
      - weekday: sunday
        start: "02:00"
        duration: 2h
        time_zone: Mars/Olympus_Mons
`,
			want: `test.yml:13: clusters[0].update_windows[0].time_zone: unknown time zone "Mars/Olympus_Mons"`,
		},
		{
			name: "no clusters",
			yaml: `
global:
  probe_timeout: 3s
`,
			want: `test.yml: clusters: at least one cluster is required`,
		},
		{
			name: "bad max_concurrency",
			yaml: `
global:
  max_concurrency: -1
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
`,
			want: `test.yml:2: global.max_concurrency: must be at least 1, got -1`,
		},
		{
			name: "empty file",
			yaml: ``,
			want: `test.yml: empty configuration`,
		},
		{
			name: "comments only",
			yaml: `
# nothing configured yet
`,
			want: `test.yml: empty configuration`,
		},
		{
			// yaml.v3 reports parser errors at the (0-based) line of the
			// enclosing collection, so only the presence of a line is checked.
			name: "YAML syntax error",
			yaml: `
clusters:
  - name: c1
   kind: active_standby
`,
			want: `test.yml:1: did not find expected '-' indicator`,
		},
		{
			name: "duplicate YAML key",
			yaml: `
clusters:
  - name: c1
    name: c2
`,
			want: `test.yml:3: `,
		},
		{
			name: "empty service shorthand",
			yaml: `
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: 192.0.2.12
    services:
      - ""
`,
			want: `test.yml:10: clusters[0].services[0]: empty service name`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(y(tc.yaml), "test.yml")
			if cfg != nil {
				t.Errorf("Load returned a configuration along with the error")
			}
			lines := errorLines(t, err)
			found := false
			for _, l := range lines {
				found = found || strings.HasPrefix(l, tc.want)
			}
			if !found {
				t.Errorf("error does not contain a line starting with\n  %s\ngot:\n  %s", tc.want, strings.Join(lines, "\n  "))
			}
			if !tc.more && len(lines) != 1 {
				t.Errorf("want exactly one error, got %d:\n  %s", len(lines), strings.Join(lines, "\n  "))
			}
		})
	}
}

func TestLoadCredentialsNotEchoed(t *testing.T) {
	_, err := Load(y(`
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
    sources:
      - type: http
        http: {url: "http://monitor:s3cret@127.0.0.1/status"}
`), "test.yml")
	if err == nil {
		t.Fatal("URL with credentials accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error echoes the password: %v", err)
	}
}

func TestLoadSeveralTypeErrors(t *testing.T) {
	_, err := Load(y(`
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - name: a
        address: 192.0.2.11
        priority: high
      - name: b
        address: 192.0.2.12
        priority: low
`), "test.yml")
	lines := errorLines(t, err)
	want := []string{
		"test.yml:7: clusters[0].nodes[0].priority: cannot unmarshal !!str `high` into int",
		"test.yml:10: clusters[0].nodes[1].priority: cannot unmarshal !!str `low` into int",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

const minimalCluster = `
global:
  probe_timeout: 3s
clusters:
  - name: c1
    kind: active_standby
    virtual_address: 192.0.2.10
    nodes:
      - name: a
        address: 192.0.2.11
      - name: b
        address: mx-b.example.com
        sync_address: 10.0.0.2
`

func load(t *testing.T, tail string) *Config {
	t.Helper()
	cfg, err := Load(y(minimalCluster+strings.TrimPrefix(tail, "\n")), "test.yml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestServiceShorthands(t *testing.T) {
	cfg := load(t, `
    services:
      - smtp
      - submission
      - submissions
      - smtps
      - imap
      - imaps
      - pop3
      - pop3s
      - ldap
      - ldaps
      - http
      - https
      - name: submission-alt
        protocol: smtp
        port: 2587
        tls: starttls
      - name: mx
        protocol: smtp
        tls: none
      - {name: lmtp, protocol: tcp, port: 24}
`)
	tests := []struct {
		name, protocol string
		port           int
		tls, mode      string
		opportunistic  bool
	}{
		{"smtp", "smtp", 25, "", "none", true},
		{"submission", "smtp", 587, "starttls", "starttls", false},
		{"submissions", "smtps", 465, "implicit", "implicit", false},
		{"smtps", "smtps", 465, "implicit", "implicit", false},
		{"imap", "imap", 143, "", "none", true},
		{"imaps", "imaps", 993, "implicit", "implicit", false},
		{"pop3", "pop3", 110, "", "none", true},
		{"pop3s", "pop3s", 995, "implicit", "implicit", false},
		{"ldap", "ldap", 389, "", "none", true},
		{"ldaps", "ldaps", 636, "implicit", "implicit", false},
		{"http", "http", 80, "none", "none", false},
		{"https", "https", 443, "implicit", "implicit", false},
		{"submission-alt", "smtp", 2587, "starttls", "starttls", false},
		{"mx", "smtp", 25, "none", "none", false},
		{"lmtp", "tcp", 24, "none", "none", false},
	}
	cl := cfg.Clusters[0]
	if len(cl.Services) != len(tests) {
		t.Fatalf("%d services, want %d", len(cl.Services), len(tests))
	}
	for _, tc := range tests {
		s := cl.ServiceByName(tc.name)
		if s == nil {
			t.Errorf("service %q missing", tc.name)
			continue
		}
		if s.Protocol != tc.protocol || s.Port != tc.port || s.TLS != tc.tls {
			t.Errorf("%s: protocol %q port %d tls %q, want %q %d %q", tc.name, s.Protocol, s.Port, s.TLS, tc.protocol, tc.port, tc.tls)
		}
		if got := s.TLSMode(); got != tc.mode {
			t.Errorf("%s: TLSMode() = %q, want %q", tc.name, got, tc.mode)
		}
		if got := s.Opportunistic(); got != tc.opportunistic {
			t.Errorf("%s: Opportunistic() = %v, want %v", tc.name, got, tc.opportunistic)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg := load(t, `
    services:
      - smtp
      - name: imap
        timeout: 10s
        gated: true
      - name: pop3
        timeout: 1s
        slow_threshold: 500ms
    liveness:
      - protocol: tcp
        port: 22
      - smtp
      - name: ssh
        protocol: tcp
        port: 2222
    sources:
      - type: marker
        marker: {file: /var/spool/marker}
      - type: marker
        name: marker2
        marker: {file: /var/spool/marker2}
      - type: peer_tcp
        peer_tcp: {ports: [7789]}
`)
	g := cfg.Global
	if g.ProbeTimeout != model.Duration(3*time.Second) {
		t.Errorf("probe_timeout = %v, want the configured 3s", g.ProbeTimeout)
	}
	if g.MaxConcurrency != DefaultMaxConcurrency || g.HeloName != DefaultHeloName || g.MaxOutputBytes != DefaultMaxOutputBytes {
		t.Errorf("global defaults not applied: %+v", g)
	}
	cl := cfg.Clusters[0]
	if cfg.File != "test.yml" {
		t.Errorf("File = %q", cfg.File)
	}
	if a, b := cl.NodeByName("a"), cl.NodeByName("b"); a == nil || b == nil || a.Priority != 1 || b.Priority != 2 {
		t.Errorf("priorities from order: got %+v %+v", a, b)
	}
	if cl.NodeByName("c") != nil || cfg.ClusterByName("c1") != cl || cfg.ClusterByName("c2") != nil {
		t.Error("lookup by name is wrong")
	}
	for name, want := range map[string]time.Duration{"smtp": 3 * time.Second, "imap": 3 * time.Second, "pop3": time.Second} {
		if got := time.Duration(cl.ServiceByName(name).Timeout); got != want {
			t.Errorf("%s: timeout %v, want %v (capped by global.probe_timeout)", name, got, want)
		}
	}
	if s := cl.ServiceByName("smtp"); s.IsGated() || s.Gated == nil || time.Duration(s.SlowThreshold) != DefaultSlowThreshold {
		t.Errorf("smtp: gated %v slow %v, want false and the default", s.IsGated(), s.SlowThreshold)
	}
	if s := cl.ServiceByName("imap"); !s.IsGated() {
		t.Error("imap: gated: true lost")
	}
	if s := cl.ServiceByName("pop3"); time.Duration(s.SlowThreshold) != 500*time.Millisecond {
		t.Errorf("pop3: slow threshold %v", s.SlowThreshold)
	}
	var live []string
	for _, s := range cl.Liveness {
		live = append(live, s.Name)
	}
	if got := strings.Join(live, ","); got != "tcp_22,smtp,ssh" {
		t.Errorf("liveness names %s, want tcp_22,smtp,ssh", got)
	}
	var srcs []string
	for _, s := range cl.Sources {
		srcs = append(srcs, s.Name)
	}
	if got := strings.Join(srcs, ","); got != "marker,marker2,peer_tcp" {
		t.Errorf("source names %s, want marker,marker2,peer_tcp", got)
	}
}

func TestDefaultProbeTimeout(t *testing.T) {
	cfg, err := Load(y(`
clusters:
  - name: c1
    kind: failover_group
    nodes:
      - {name: a, address: 192.0.2.11, priority: 3}
      - {name: b, address: 192.0.2.12}
      - {name: c, address: "2001:db8::3", priority: 1}
    services: [smtp]
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.ProbeTimeout != model.Duration(DefaultProbeTimeout) {
		t.Errorf("probe_timeout = %v", cfg.Global.ProbeTimeout)
	}
	if got := cfg.Clusters[0].Services[0].Timeout; got != model.Duration(DefaultProbeTimeout) {
		t.Errorf("service timeout = %v", got)
	}
	// An explicit priority is kept; the others default to their position.
	var prios []int
	for _, n := range cfg.Clusters[0].Nodes {
		prios = append(prios, n.Priority)
	}
	if len(prios) != 3 || prios[0] != 3 || prios[1] != 2 || prios[2] != 1 {
		t.Errorf("priorities %v, want [3 2 1]", prios)
	}
}

func TestDefaultPriorityCollision(t *testing.T) {
	// b's default priority (its position, 2) collides with a's explicit 2.
	_, err := Load(y(`
clusters:
  - name: c1
    kind: failover_group
    nodes:
      - {name: a, address: 192.0.2.11, priority: 2}
      - {name: b, address: 192.0.2.12}
`), "test.yml")
	lines := errorLines(t, err)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `test.yml:6: clusters[0].nodes[1].priority: priority 2 is also given to node "a"`) {
		t.Errorf("got %q", lines)
	}
}

func TestMasterSlaveValid(t *testing.T) {
	cfg, err := Load(y(`
clusters:
  - name: ms
    kind: master_slave
    nodes:
      - {name: m, address: 192.0.2.11, role: master}
      - {name: s1, address: 192.0.2.12, role: slave}
      - {name: s2, address: 192.0.2.13, role: slave}
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Clusters[0].NodeByName("m").Role; got != "master" {
		t.Errorf("role %q", got)
	}
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples/*.yml found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadFile(f)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(cfg.Clusters) == 0 || cfg.File != f {
				t.Errorf("loaded %d clusters from %s (File %q)", len(cfg.Clusters), f, cfg.File)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.Contains(err.Error(), "reading configuration") {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(p, []byte("clusters: []\nfoo: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); err == nil || !strings.HasPrefix(err.Error(), p+`:2: foo: unknown field "foo"`) {
		t.Errorf("error does not name the file and line: %v", err)
	}
}

func window(t *testing.T, weekday, start, duration, tz string) *Schedule {
	t.Helper()
	cfg := load(t, `
    update_windows:
      - weekday: `+weekday+`
        start: "`+start+`"
        duration: `+duration+`
        time_zone: "`+tz+`"
`)
	return cfg.Clusters[0].UpdateWindows[0]
}

func TestScheduleOpenAt(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		at   time.Time
		open bool
		end  time.Time
	}
	jst := func(y int, m time.Month, d, h, min, s int) time.Time { return time.Date(y, m, d, h, min, s, 0, tokyo) }
	utc := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, time.UTC)
	}
	tests := []struct {
		name   string
		w      *Schedule
		checks []check
	}{
		{
			// 2024-06-02 is a Sunday.
			name: "sunday 02:00 2h Asia/Tokyo",
			w:    window(t, "sunday", "02:00", "2h", "Asia/Tokyo"),
			checks: []check{
				{jst(2024, 6, 2, 1, 59, 59), false, time.Time{}},
				{jst(2024, 6, 2, 2, 0, 0), true, jst(2024, 6, 2, 4, 0, 0)},
				{jst(2024, 6, 2, 3, 59, 59), true, jst(2024, 6, 2, 4, 0, 0)},
				{jst(2024, 6, 2, 4, 0, 0), false, time.Time{}},
				// The same instants seen from UTC: Saturday 17:00-19:00.
				{utc(2024, 6, 1, 17, 0, 0), true, utc(2024, 6, 1, 19, 0, 0)},
				{utc(2024, 6, 1, 19, 0, 0), false, time.Time{}},
				{utc(2024, 6, 2, 2, 30, 0), false, time.Time{}}, // 02:30 UTC is 11:30 JST
				{jst(2024, 6, 3, 2, 30, 0), false, time.Time{}}, // Monday
				{jst(2024, 6, 9, 2, 30, 0), true, jst(2024, 6, 9, 4, 0, 0)},
			},
		},
		{
			// 2024-06-05 is a Wednesday.
			name: "wednesday 23:30 2h crosses midnight",
			w:    window(t, "wednesday", "23:30", "2h", "UTC"),
			checks: []check{
				{utc(2024, 6, 5, 23, 29, 59), false, time.Time{}},
				{utc(2024, 6, 5, 23, 30, 0), true, utc(2024, 6, 6, 1, 30, 0)},
				{utc(2024, 6, 6, 0, 30, 0), true, utc(2024, 6, 6, 1, 30, 0)},
				{utc(2024, 6, 6, 1, 29, 59), true, utc(2024, 6, 6, 1, 30, 0)},
				{utc(2024, 6, 6, 1, 30, 0), false, time.Time{}},
				{utc(2024, 6, 5, 0, 30, 0), false, time.Time{}}, // Wednesday morning
			},
		},
		{
			// 2024-06-08 is a Saturday.
			name: "saturday 22:00 4h wraps into sunday",
			w:    window(t, "saturday", "22:00", "4h", "UTC"),
			checks: []check{
				{utc(2024, 6, 8, 21, 59, 59), false, time.Time{}},
				{utc(2024, 6, 8, 22, 0, 0), true, utc(2024, 6, 9, 2, 0, 0)},
				{utc(2024, 6, 9, 0, 0, 0), true, utc(2024, 6, 9, 2, 0, 0)},
				{utc(2024, 6, 9, 1, 59, 59), true, utc(2024, 6, 9, 2, 0, 0)},
				{utc(2024, 6, 9, 2, 0, 0), false, time.Time{}},
				{utc(2024, 6, 2, 1, 0, 0), true, utc(2024, 6, 2, 2, 0, 0)}, // previous week's occurrence
			},
		},
		{
			name: "sunday 00:00 7d is always open",
			w:    window(t, "Sunday", "00:00", "7d", ""),
			checks: []check{
				{utc(2024, 6, 8, 23, 59, 59), true, utc(2024, 6, 9, 0, 0, 0)},
				{utc(2024, 6, 9, 0, 0, 0), true, utc(2024, 6, 16, 0, 0, 0)},
				{utc(2024, 6, 12, 12, 0, 0), true, utc(2024, 6, 16, 0, 0, 0)},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.checks {
				open, end := tc.w.OpenAt(c.at)
				if open != c.open || !end.Equal(c.end) {
					t.Errorf("OpenAt(%s) = %v, %s; want %v, %s", c.at.Format(time.RFC3339), open, end.Format(time.RFC3339), c.open, c.end.Format(time.RFC3339))
				}
			}
		})
	}
	var unvalidated Schedule
	if open, _ := unvalidated.OpenAt(time.Now()); open {
		t.Error("a schedule that was never validated reports open")
	}
}

func TestMergeKeys(t *testing.T) {
	cfg, err := Load(y(`
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - &a {name: a, address: 192.0.2.11, sync_address: 10.0.0.1}
      - <<: *a
        name: b
        address: 192.0.2.12
`), "test.yml")
	if err != nil {
		t.Fatalf("merge key rejected: %v", err)
	}
	if b := cfg.Clusters[0].NodeByName("b"); b == nil || b.SyncAddress != "10.0.0.1" || b.Address != "192.0.2.12" {
		t.Errorf("merged node b = %+v", b)
	}
	// Unknown keys inside a merged mapping are still caught.
	_, err = Load(y(`
clusters:
  - name: c1
    kind: active_standby
    nodes:
      - &a {name: a, address: 192.0.2.11, adress: x}
      - <<: *a
        name: b
        address: 192.0.2.12
`), "test.yml")
	lines := errorLines(t, err)
	if len(lines) == 0 || !strings.HasPrefix(lines[0], `test.yml:5: clusters[0].nodes[0].adress: unknown field "adress"`) {
		t.Errorf("got %q", lines)
	}
}

func TestTLSServerNameOverride(t *testing.T) {
	cfg, err := Load(y(`
clusters:
  - name: c1
    kind: active_standby
    tls_server_name: mail.example.com
    nodes:
      - {name: a, address: 192.0.2.11}
      - {name: b, address: 192.0.2.12}
    services:
      - smtp
      - name: https
        tls_server_name: webmail.example.com
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	cl := cfg.Clusters[0]
	if got := cl.TLSServerNameFor(cl.Services[0]); got != "mail.example.com" {
		t.Errorf("smtp: %q, want the cluster's name", got)
	}
	if got := cl.TLSServerNameFor(cl.Services[1]); got != "webmail.example.com" {
		t.Errorf("https: %q, want the service's own name", got)
	}
}
