package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// validator collects errors with their file positions.
type validator struct {
	file string
	pos  positions
	errs Errors
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.pos.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	labelValueRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
	hostNameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

func (c *Config) validate(v *validator) Errors {
	if c.Global.MaxConcurrency < 1 {
		v.errorf("global.max_concurrency", "must be at least 1, got %d", c.Global.MaxConcurrency)
	}
	if c.Global.ProbeTimeout < 0 {
		v.errorf("global.probe_timeout", "must not be negative")
	}
	if c.Global.MaxOutputBytes < 1024 {
		v.errorf("global.max_output_bytes", "must be at least 1024, got %d", c.Global.MaxOutputBytes)
	}
	if len(c.Clusters) == 0 {
		v.errorf("clusters", "at least one cluster is required")
	}
	seen := map[string]bool{}
	for i, cl := range c.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		if cl == nil {
			v.errorf(p, "empty cluster")
			continue
		}
		if seen[cl.Name] && cl.Name != "" {
			v.errorf(p+".name", "cluster %q is defined twice", cl.Name)
		}
		seen[cl.Name] = true
		cl.validate(v, p)
	}
	return v.errs
}

func (cl *Cluster) validate(v *validator, p string) {
	if !labelValueRe.MatchString(cl.Name) {
		v.errorf(p+".name", "required: letters, digits, '_', '.', ':' or '-', got %q", cl.Name)
	}
	minNodes, maxNodes := 2, 2
	switch cl.Kind {
	case KindActiveStandby:
	case KindFailoverGroup:
		maxNodes = 4
	case KindMasterSlave:
		maxNodes = 16
	default:
		v.errorf(p+".kind", "must be active_standby, failover_group or master_slave, got %q", cl.Kind)
		minNodes, maxNodes = 1, 16
	}
	if len(cl.Nodes) < minNodes || len(cl.Nodes) > maxNodes {
		v.errorf(p+".nodes", "a %s cluster has %d to %d nodes, got %d", cl.Kind, minNodes, maxNodes, len(cl.Nodes))
	}
	if cl.MaxConcurrency < 0 {
		v.errorf(p+".max_concurrency", "must be 0 (no limit of its own) or more, got %d", cl.MaxConcurrency)
	}
	validTLSServerName(v, p+".tls_server_name", cl.TLSServerName)
	if cl.VirtualAddress != "" && !validHost(cl.VirtualAddress) {
		v.errorf(p+".virtual_address", "must be an IP address or host name without port, got %q", cl.VirtualAddress)
	}
	names, prios, masters := map[string]bool{}, map[int]string{}, 0
	for i, n := range cl.Nodes {
		np := fmt.Sprintf("%s.nodes[%d]", p, i)
		if n == nil {
			v.errorf(np, "empty node")
			continue
		}
		if !labelValueRe.MatchString(n.Name) {
			v.errorf(np+".name", "required: letters, digits, '_', '.', ':' or '-', got %q", n.Name)
		} else if names[n.Name] {
			v.errorf(np+".name", "node %q is defined twice", n.Name)
		}
		names[n.Name] = true
		if !validHost(n.Address) {
			v.errorf(np+".address", "must be an IP address or host name without port, got %q", n.Address)
		}
		if n.SyncAddress != "" && !validHost(n.SyncAddress) {
			v.errorf(np+".sync_address", "must be an IP address or host name without port, got %q", n.SyncAddress)
		}
		if n.Priority < 1 {
			v.errorf(np+".priority", "must be 1 or more (1 = first choice), got %d", n.Priority)
		} else if other, dup := prios[n.Priority]; dup {
			v.errorf(np+".priority", "priority %d is also given to node %q", n.Priority, other)
		}
		prios[n.Priority] = n.Name
		switch {
		case cl.Kind == KindMasterSlave && n.Role == "master":
			masters++
		case cl.Kind == KindMasterSlave && n.Role == "slave":
		case cl.Kind == KindMasterSlave:
			v.errorf(np+".role", "a master_slave node needs role master or slave, got %q", n.Role)
		case n.Role != "":
			v.errorf(np+".role", "only master_slave clusters configure roles (the role of a %s node is observed)", cl.Kind)
		}
	}
	if cl.Kind == KindMasterSlave && masters != 1 && len(cl.Nodes) > 0 {
		v.errorf(p+".nodes", "a master_slave cluster has exactly one master, got %d", masters)
	}
	if cl.PreferredActive != "" && !names[cl.PreferredActive] {
		v.errorf(p+".preferred_active", "names no node of this cluster: %q", cl.PreferredActive)
	}
	svcNames := map[string]bool{}
	for i, s := range cl.Services {
		sp := fmt.Sprintf("%s.services[%d]", p, i)
		if s == nil {
			v.errorf(sp, "empty service")
			continue
		}
		if svcNames[s.Name] {
			v.errorf(sp+".name", "service %q is defined twice", s.Name)
		}
		svcNames[s.Name] = true
		s.validate(v, sp)
	}
	for i, s := range cl.Liveness {
		sp := fmt.Sprintf("%s.liveness[%d]", p, i)
		if s == nil {
			v.errorf(sp, "empty check")
			continue
		}
		s.validate(v, sp)
	}
	srcNames := map[string]bool{}
	for i, s := range cl.Sources {
		sp := fmt.Sprintf("%s.sources[%d]", p, i)
		if s == nil {
			v.errorf(sp, "empty source")
			continue
		}
		if srcNames[s.Name] {
			v.errorf(sp+".name", "source %q is defined twice in this cluster; give one a name", s.Name)
		}
		srcNames[s.Name] = true
		s.validate(v, sp, cl)
	}
	for i, w := range cl.UpdateWindows {
		wp := fmt.Sprintf("%s.update_windows[%d]", p, i)
		if w == nil {
			v.errorf(wp, "empty window")
			continue
		}
		w.validate(v, wp)
	}
	if cl.RoundTrip != nil {
		cl.RoundTrip.validate(v, p+".roundtrip", cl)
	}
}

func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, " /") {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	if strings.Contains(h, ":") {
		return false // host:port, or an invalid IPv6 literal
	}
	return hostNameRe.MatchString(h)
}

func (s *Service) validate(v *validator, p string) {
	if s.Name == "" {
		v.errorf(p+".name", "required")
	}
	if _, ok := protocolDefaults[s.Protocol]; !ok {
		v.errorf(p+".protocol", "unknown protocol %q (known: smtp, smtps, pop3, pop3s, imap, imaps, ldap, ldaps, http, https, dns, tcp; shorthands submission, submissions)", s.Protocol)
		return
	}
	if s.Port < 1 || s.Port > 65535 {
		v.errorf(p+".port", "must be 1-65535, got %d", s.Port)
	}
	switch s.TLS {
	case "", "none", "implicit":
	case "starttls":
		if !starttlsProtocols[s.Protocol] {
			v.errorf(p+".tls", "protocol %s has no STARTTLS; use implicit or none", s.Protocol)
		}
	default:
		v.errorf(p+".tls", "must be none, starttls or implicit, got %q", s.TLS)
	}
	if s.Timeout <= 0 {
		v.errorf(p+".timeout", "must be positive")
	}
	if s.Protocol == "dns" && s.DNSQueryName == "" {
		v.errorf(p+".dns_query_name", "required for a dns service")
	}
	if s.DNSTransport != "" && s.DNSTransport != "udp" && s.DNSTransport != "tcp" {
		v.errorf(p+".dns_transport", "must be udp or tcp, got %q", s.DNSTransport)
	}
	for _, st := range s.HTTPExpectStatus {
		if st < 100 || st > 599 {
			v.errorf(p+".http_expect_status", "not an HTTP status: %d", st)
		}
	}
	if s.HTTPPath != "" && !strings.HasPrefix(s.HTTPPath, "/") {
		v.errorf(p+".http_path", "must start with /, got %q", s.HTTPPath)
	}
	if s.Auth != nil {
		s.Auth.validate(v, p+".auth", s.Protocol)
	}
	validTLSServerName(v, p+".tls_server_name", s.TLSServerName)
}

// redactURL shows a URL in an error without what may carry secrets: the
// userinfo (user:password@), the query string and the fragment.
func redactURL(raw string) string {
	out := raw
	cut := false
	if i := strings.IndexAny(out, "?#"); i >= 0 {
		out, cut = out[:i], true
	}
	if i := strings.Index(out, "://"); i >= 0 {
		if j := strings.LastIndex(out[i+3:], "@"); j >= 0 {
			out = out[:i+3] + out[i+3+j+1:]
		}
	} else if j := strings.LastIndex(out, "@"); j >= 0 {
		out = out[j+1:]
	}
	if cut {
		out += "?…"
	}
	return out
}

// validTLSServerName: a DNS name as clients write it. An IP address is
// refused: certificates are checked against the name clients use, never
// against an address (DESIGN §2.12).
func validTLSServerName(v *validator, path, name string) {
	switch {
	case name == "":
	case net.ParseIP(name) != nil:
		v.errorf(path, "must be the host name clients use (e.g. mail.example.com), not an address: %q", name)
	case !hostNameRe.MatchString(name):
		v.errorf(path, "not a host name: %q", name)
	}
}

func (w *Schedule) validate(v *validator, p string) {
	wd := map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
		"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}
	d, ok := wd[strings.ToLower(w.Weekday)]
	if !ok {
		v.errorf(p+".weekday", "must be a weekday name such as sunday, got %q", w.Weekday)
	}
	w.weekday = d
	t, err := time.Parse("15:04", w.Start)
	if err != nil {
		v.errorf(p+".start", "must be HH:MM (24h), got %q", w.Start)
	}
	w.startMin = t.Hour()*60 + t.Minute()
	if time.Duration(w.Duration) < time.Minute || time.Duration(w.Duration) > 7*24*time.Hour {
		v.errorf(p+".duration", "must be between 1m and 7d, got %s", w.Duration)
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		v.errorf(p+".time_zone", "unknown time zone %q", w.TimeZone)
		loc = time.UTC
	}
	w.loc = loc
}

// sourceBlocks returns the type-specific blocks that are set, by type name.
func (s *Source) sourceBlocks() map[string]bool {
	set := map[string]bool{}
	for name, ok := range map[string]bool{
		"service": s.Service != nil, "vip_local": s.VIPLocal != nil, "keepalived": s.Keepalived != nil,
		"pacemaker": s.Pacemaker != nil, "drbd": s.DRBD != nil, "dovecot": s.Dovecot != nil,
		"marker": s.Marker != nil, "peer_tcp": s.PeerTCP != nil, "queue_dir": s.QueueDir != nil,
		"postfix_queue": s.PostfixQueue != nil, "command": s.Command != nil, "http": s.HTTP != nil,
		"version": s.Version != nil, "clpstat": s.Clpstat != nil, "solaris": s.Solaris != nil,
		"mfilter": s.MFilter != nil, "vip_holder": s.VIPHolder != nil,
	} {
		if ok {
			set[name] = true
		}
	}
	return set
}

// SourceTypes lists every source type the configuration accepts.
var SourceTypes = []string{"service", "vip_local", "keepalived", "pacemaker", "drbd", "dovecot", "marker",
	"peer_tcp", "queue_dir", "postfix_queue", "command", "http", "version", "clpstat", "solaris", "mfilter", "vip_holder"}

func (s *Source) validate(v *validator, p string, cl *Cluster) {
	known := false
	for _, t := range SourceTypes {
		known = known || t == s.Type
	}
	if !known {
		v.errorf(p+".type", "unknown source type %q (known: %s)", s.Type, strings.Join(SourceTypes, ", "))
		return
	}
	for name := range s.sourceBlocks() {
		if name != s.Type {
			v.errorf(p+"."+name, "block %q does not belong to a source of type %q", name, s.Type)
		}
	}
	if !labelValueRe.MatchString(s.Name) {
		v.errorf(p+".name", "letters, digits, '_', '.', ':' or '-', got %q", s.Name)
	}
	cmd := func(field string, c *Command, required bool) {
		if required && len(c.Argv) == 0 {
			v.errorf(p+"."+field+".argv", "required")
		}
		if len(c.Argv) > 0 && c.Argv[0] == "" {
			v.errorf(p+"."+field+".argv", "the program name is empty")
		}
		for _, e := range c.Env {
			if !strings.Contains(e, "=") {
				v.errorf(p+"."+field+".env", "must be KEY=value, got %q", e)
			}
		}
	}
	switch s.Type {
	case "service":
		if len(cl.Services) == 0 {
			v.errorf(p, "the service source needs at least one service in the cluster")
		}
		if s.Service != nil && s.Service.PrimaryService != "" && cl.ServiceByName(s.Service.PrimaryService) == nil {
			v.errorf(p+".service.primary_service", "names no service of this cluster: %q", s.Service.PrimaryService)
		}
	case "vip_local":
		if (s.VIPLocal == nil || s.VIPLocal.Address == "") && cl.VirtualAddress == "" {
			v.errorf(p, "vip_local needs the cluster's virtual_address or vip_local.address")
		}
	case "keepalived":
		k := s.Keepalived
		if k == nil || k.StateFile == "" && k.DataFile == "" && k.JSONFile == "" {
			v.errorf(p+".keepalived", "needs state_file, data_file or json_file")
		}
	case "pacemaker":
		if s.Pacemaker == nil || s.Pacemaker.ResourceGroup == "" && s.Pacemaker.PromotableResource == "" {
			v.errorf(p+".pacemaker", "needs resource_group or promotable_resource (what running means active)")
		} else {
			cmd("pacemaker.command", &s.Pacemaker.Command, false)
		}
	case "drbd":
		if s.DRBD != nil {
			switch f := s.DRBD.Format; f {
			case "", "json", "text", "events2", "proc":
			default:
				v.errorf(p+".drbd.format", "must be json, text, events2 or proc, got %q", f)
			}
			cmd("drbd.command", &s.DRBD.Command, false)
		}
	case "marker":
		if s.Marker == nil || s.Marker.File == "" {
			v.errorf(p+".marker.file", "required")
		}
	case "peer_tcp":
		if s.PeerTCP == nil || len(s.PeerTCP.Ports) == 0 {
			v.errorf(p+".peer_tcp.ports", "at least one port is required")
		} else {
			for _, port := range s.PeerTCP.Ports {
				if port < 1 || port > 65535 {
					v.errorf(p+".peer_tcp.ports", "must be 1-65535, got %d", port)
				}
			}
		}
	case "queue_dir":
		if s.QueueDir == nil || len(s.QueueDir.Queues) == 0 {
			v.errorf(p+".queue_dir.queues", "at least one queue is required")
		} else {
			validateQueueDirs(v, p+".queue_dir.queues", s.QueueDir.Queues)
		}
	case "command":
		if s.Command == nil {
			v.errorf(p+".command.argv", "required")
		} else {
			cmd("command", &s.Command.Command, true)
			validateProvides(v, p+".command.provides", s.Command.Provides)
		}
	case "http":
		if s.HTTP == nil {
			v.errorf(p+".http.url", "required")
		} else if u, err := url.Parse(s.HTTP.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(p+".http.url", "must be an http:// or https:// URL, got %q", redactURL(s.HTTP.URL))
		} else if u.User != nil {
			v.errorf(p+".http.url", "must not contain credentials; use username and password_file")
		}
		if s.HTTP != nil {
			validateProvides(v, p+".http.provides", s.HTTP.Provides)
		}
	case "version":
		if s.Version == nil {
			v.errorf(p+".version.command.argv", "required")
		} else {
			cmd("version.command", &s.Version.Command, true)
			if s.Version.Regexp != "" {
				if re, err := regexp.Compile(s.Version.Regexp); err != nil {
					v.errorf(p+".version.regexp", "invalid: %v", err)
				} else if re.NumSubexp() < 1 {
					v.errorf(p+".version.regexp", "needs one capturing group for the version")
				}
			}
		}
	case "clpstat":
		if s.Clpstat == nil || s.Clpstat.Group == "" {
			v.errorf(p+".clpstat.group", "required: the failover group whose current server is active")
		}
	case "solaris":
		if s.Solaris == nil || s.Solaris.ResourceGroup == "" {
			v.errorf(p+".solaris.resource_group", "required: the mail resource group, e.g. MAIL-RG")
		}
	case "vip_holder":
		if cl.VirtualAddress == "" {
			v.errorf(p, "vip_holder needs the cluster's virtual_address")
		}
		h := s.VIPHolder
		if h == nil {
			v.errorf(p+".vip_holder.method", "required: ssh, tls or http_header")
			break
		}
		switch h.Method {
		case "ssh", "tls":
		case "http_header":
			if h.Header == "" {
				v.errorf(p+".vip_holder.header", "required for method http_header: the response header to compare")
			}
		default:
			v.errorf(p+".vip_holder.method", "must be ssh, tls or http_header, got %q", h.Method)
		}
		if h.Port < 0 || h.Port > 65535 {
			v.errorf(p+".vip_holder.port", "must be a TCP port, got %d", h.Port)
		}
	case "mfilter":
		if s.MFilter == nil || s.MFilter.DefFile == "" {
			v.errorf(p+".mfilter.def_file", "required: path of mf_replica.def")
		} else {
			validateQueueDirs(v, p+".mfilter.queue_dirs", s.MFilter.QueueDirs)
		}
		if cl.Kind != KindMasterSlave {
			v.errorf(p+".type", "mfilter sources belong to master_slave clusters")
		}
	}
}

// validateProvides checks the fact families a JSON adapter declares.
func validateProvides(v *validator, p string, list []string) {
	seen := map[string]bool{}
	for i, f := range list {
		if f != ProvidesRole && f != ProvidesSync {
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "must be %s or %s, got %q", ProvidesRole, ProvidesSync, f)
		} else if seen[f] {
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "%q is listed twice", f)
		}
		seen[f] = true
	}
}

func validateQueueDirs(v *validator, p string, qs []*QueueDir) {
	names := map[string]bool{}
	for i, q := range qs {
		qp := fmt.Sprintf("%s[%d]", p, i)
		if q == nil || q.Path == "" {
			v.errorf(qp+".path", "required")
			continue
		}
		if q.Name == "" {
			v.errorf(qp+".name", "required (the queue label)")
		} else if names[q.Name] {
			v.errorf(qp+".name", "queue %q is defined twice", q.Name)
		}
		names[q.Name] = true
		if q.MaxFiles < 0 {
			v.errorf(qp+".max_files", "must not be negative")
		}
	}
}
