package collector

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

const namespace = "mailcluster"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	cn = []string{"cluster", "node"}

	nodeInfoDesc       = desc("node_info", "Every configured node (always 1).", "cluster", "node", "kind", "address", "priority", "preferred")
	nodeRoleDesc       = desc("node_role", "Role of the node as its cluster software reports it: 1 for the current role, 0 for the others.", "cluster", "node", "role")
	nodeObservedDesc   = desc("node_observed", "What this exporter's probes saw of the node (serving, alive, silent): 1 for the current state, 0 for the others.", "cluster", "node", "state")
	redundancyDesc     = desc("redundancy_enabled", "1 if redundancy is switched on for the node, 0 if off.", cn...)
	peerUpDesc         = desc("peer_up", "1 if the node sees its peer (heartbeat or sync link).", "cluster", "node", "peer")
	syncStateDesc      = desc("sync_state", "Data sync state of the node: 1 for the current state, 0 for the others.", "cluster", "node", "state")
	syncProgressDesc   = desc("sync_progress_ratio", "Sync progress, 0 to 1, while syncing.", cn...)
	syncLagDesc        = desc("sync_lag_seconds", "Age of the newest replicated change.", cn...)
	syncPendingDesc    = desc("sync_pending", "Data still to replicate.", "cluster", "node", "unit")
	serviceUpDesc      = desc("service_up", "1 if the protocol check on the node's own address succeeded.", "cluster", "node", "service")
	serviceDurDesc     = desc("service_probe_duration_seconds", "Duration of the protocol check on the node's own address.", "cluster", "node", "service")
	serviceCertDesc    = desc("service_tls_cert_expiry_timestamp_seconds", "NotAfter of the leaf certificate the service presented.", "cluster", "node", "service")
	serviceChainDesc   = desc("service_tls_chain_expiry_timestamp_seconds", "Earliest NotAfter in the certificate chain of the service (verified chain with its root, else the certificates presented).", "cluster", "node", "service")
	serviceVerifDesc   = desc("service_tls_verified", "1 if the service's certificate chains to a trusted root and names tls_server_name, 0 if not; never affects service_up.", "cluster", "node", "service")
	serviceFailDesc    = desc("service_probe_failure", "1 with the reason the protocol check on the node's own address failed; present only while service_up is 0.", "cluster", "node", "service", "reason")
	softwareDesc       = desc("software_info", "Software version the node reports (always 1).", "cluster", "node", "version")
	versionTimeDesc    = desc("software_version_timestamp_seconds", "When the reported version was last written (e.g. the version file's mtime), Unix seconds.", cn...)
	syncPortUpDesc     = desc("sync_port_up", "1 if the node reaches the replication port of its peer, 0 if not.", "cluster", "node", "peer", "port")
	syncDataDesc       = desc("sync_data_enabled", "1 if mail data is replicated besides the settings, 0 if only settings are.", cn...)
	vipHolderDesc      = desc("virtual_address_holder", "1 if the node holds the common (virtual) address, told by the fingerprint seen through it.", cn...)
	restartDesc        = desc("restart_required", "1 if the node asks for a service restart.", cn...)
	queueMsgsDesc      = desc("queue_messages", "Messages in the queue.", "cluster", "node", "queue")
	queueBytesDesc     = desc("queue_bytes", "Bytes in the queue.", "cluster", "node", "queue")
	queueAgeDesc       = desc("queue_oldest_age_seconds", "Age of the oldest message in the queue.", "cluster", "node", "queue")
	roleChangesDesc    = desc("role_changes_total", "Role transitions of the node observed by this exporter.", cn...)
	lastRoleChangeDesc = desc("last_role_change_timestamp_seconds", "Unix time of the node's last role transition.", cn...)
	sourceUpDesc       = desc("source_up", "1 if the source could produce its facts, 0 if it failed.", "cluster", "node", "source")
	sourceDurDesc      = desc("source_duration_seconds", "Time the source took in this collection.", "cluster", "node", "source")

	serviceInfoDesc = desc("service_info", "Every configured service (always 1).", "cluster", "service", "protocol", "port", "tls", "gated")
	slowDesc        = desc("service_slow_threshold_seconds", "Probe duration above which the service counts as slow (slow_threshold).", "cluster", "service")
	vServiceUpDesc  = desc("virtual_service_up", "1 if the service answers through the virtual address.", "cluster", "service")
	vServiceDurDesc = desc("virtual_service_probe_duration_seconds", "Duration of the check through the virtual address.", "cluster", "service")
	vServiceCert    = desc("virtual_service_tls_cert_expiry_timestamp_seconds", "NotAfter of the leaf certificate presented through the virtual address.", "cluster", "service")
	vServiceChain   = desc("virtual_service_tls_chain_expiry_timestamp_seconds", "Earliest NotAfter in the certificate chain presented through the virtual address (verified chain with its root, else the certificates presented).", "cluster", "service")
	vServiceVerif   = desc("virtual_service_tls_verified", "1 if the certificate presented through the virtual address chains to a trusted root and names tls_server_name, 0 if not.", "cluster", "service")
	vServiceFail    = desc("virtual_service_probe_failure", "1 with the reason the check through the virtual address failed; present only while virtual_service_up is 0.", "cluster", "service", "reason")
	windowOpenDesc  = desc("update_window_open", "1 while an update window is open for the cluster.", "cluster")
	windowEndDesc   = desc("update_window_end_timestamp_seconds", "When the open update window ends; after it ended, when it ended, for 24 h.", "cluster")
)

// Describe sends every descriptor a snapshot can produce.
func Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeInfoDesc, nodeRoleDesc, nodeObservedDesc, redundancyDesc, peerUpDesc, syncStateDesc,
		syncProgressDesc, syncLagDesc, syncPendingDesc, serviceUpDesc, serviceDurDesc, serviceCertDesc, softwareDesc,
		restartDesc, versionTimeDesc, syncPortUpDesc, syncDataDesc, vipHolderDesc, queueMsgsDesc, queueBytesDesc, queueAgeDesc, roleChangesDesc, lastRoleChangeDesc, sourceUpDesc,
		sourceDurDesc, serviceInfoDesc, slowDesc, vServiceUpDesc, vServiceDurDesc, vServiceCert, windowOpenDesc, windowEndDesc,
		serviceChainDesc, serviceVerifDesc, serviceFailDesc, vServiceChain, vServiceVerif, vServiceFail} {
		ch <- d
	}
	describeRoundTrip(ch)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// constMetric sends one metric. Label values come from outside (versions
// printed by tools, names printed by cluster managers): invalid UTF-8 is
// replaced, and a metric that still cannot be built is dropped rather than
// ending the whole exposition.
func constMetric(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	for i, l := range labels {
		if !utf8.ValidString(l) {
			labels[i] = strings.ToValidUTF8(l, "\uFFFD")
		}
	}
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

// Emit writes the metrics of a snapshot.
func (s *Snapshot) Emit(ch chan<- prometheus.Metric) {
	cl := s.Cluster
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		constMetric(ch, d, prometheus.GaugeValue, v, l...)
	}
	for _, n := range cl.Nodes {
		gauge(nodeInfoDesc, 1, cl.Name, n.Name, cl.Kind, n.Address, strconv.Itoa(n.Priority),
			strconv.FormatBool(cl.PreferredActive == n.Name))
	}
	for _, name := range s.Facts.Names() {
		f := s.Facts[name]
		l := []string{cl.Name, name}
		if f.Role != "" {
			for _, r := range facts.Roles {
				gauge(nodeRoleDesc, boolValue(f.Role == r), cl.Name, name, string(r))
			}
		}
		if f.RedundancyEnabled != nil {
			gauge(redundancyDesc, boolValue(*f.RedundancyEnabled), l...)
		}
		for peer, up := range f.PeerUp {
			gauge(peerUpDesc, boolValue(up), cl.Name, name, peer)
		}
		if f.SyncState != "" {
			for _, st := range facts.SyncStates {
				gauge(syncStateDesc, boolValue(f.SyncState == st), cl.Name, name, string(st))
			}
		}
		if f.SyncProgress != nil {
			gauge(syncProgressDesc, *f.SyncProgress, l...)
		}
		if f.SyncLagSeconds != nil {
			gauge(syncLagDesc, *f.SyncLagSeconds, l...)
		}
		for unit, v := range f.SyncPending {
			gauge(syncPendingDesc, v, cl.Name, name, unit)
		}
		if f.Version != "" {
			gauge(softwareDesc, 1, cl.Name, name, f.Version)
		}
		if f.Version != "" && f.VersionTimestamp > 0 {
			gauge(versionTimeDesc, f.VersionTimestamp, l...)
		}
		if f.RestartRequired != nil {
			gauge(restartDesc, boolValue(*f.RestartRequired), l...)
		}
		for _, p := range f.SyncPorts {
			gauge(syncPortUpDesc, boolValue(p.Up), cl.Name, name, p.Peer, strconv.Itoa(p.Port))
		}
		if f.SyncDataEnabled != nil {
			gauge(syncDataDesc, boolValue(*f.SyncDataEnabled), l...)
		}
		if f.VirtualHolder != nil {
			gauge(vipHolderDesc, boolValue(*f.VirtualHolder), l...)
		}
		for q, v := range f.Queues {
			gauge(queueMsgsDesc, v.Messages, cl.Name, name, q)
			gauge(queueBytesDesc, v.Bytes, cl.Name, name, q)
			if v.OldestAgeSeconds != nil {
				gauge(queueAgeDesc, *v.OldestAgeSeconds, cl.Name, name, q)
			}
		}
		if h, ok := s.Roles[name]; ok {
			constMetric(ch, roleChangesDesc, prometheus.CounterValue, h.Changes, l...)
			if h.LastChange > 0 {
				gauge(lastRoleChangeDesc, h.LastChange, l...)
			}
		}
	}
	for node, obs := range s.Observed {
		for _, st := range facts.Observations {
			gauge(nodeObservedDesc, boolValue(obs == st), cl.Name, node, string(st))
		}
	}
	for node, outcomes := range s.Services {
		for _, o := range outcomes {
			if o.NotRun {
				continue
			}
			gauge(serviceUpDesc, boolValue(o.Result.Up), cl.Name, node, o.Service.Name)
			gauge(serviceDurDesc, o.Result.Duration.Seconds(), cl.Name, node, o.Service.Name)
			if o.Result.Reason != "" {
				gauge(serviceFailDesc, 1, cl.Name, node, o.Service.Name, string(o.Result.Reason))
			}
			if t := o.Result.TLS; t != nil {
				gauge(serviceVerifDesc, boolValue(t.Verified), cl.Name, node, o.Service.Name)
				gauge(serviceCertDesc, float64(t.LeafNotAfter.Unix()), cl.Name, node, o.Service.Name)
				gauge(serviceChainDesc, float64(t.ChainNotAfter.Unix()), cl.Name, node, o.Service.Name)
			}
		}
	}
	for _, st := range s.Sources {
		gauge(sourceUpDesc, boolValue(st.Up), cl.Name, st.Node, st.Name)
		gauge(sourceDurDesc, st.Duration.Seconds(), cl.Name, st.Node, st.Name)
	}
	for _, sv := range cl.Services {
		gauge(serviceInfoDesc, 1, cl.Name, sv.Name, sv.Protocol, strconv.Itoa(sv.Port), tlsLabel(sv), strconv.FormatBool(sv.IsGated()))
		gauge(slowDesc, time.Duration(sv.SlowThreshold).Seconds(), cl.Name, sv.Name)
	}
	for _, o := range s.Virtual {
		if o.NotRun {
			continue
		}
		gauge(vServiceUpDesc, boolValue(o.Result.Up), cl.Name, o.Service.Name)
		gauge(vServiceDurDesc, o.Result.Duration.Seconds(), cl.Name, o.Service.Name)
		if o.Result.Reason != "" {
			gauge(vServiceFail, 1, cl.Name, o.Service.Name, string(o.Result.Reason))
		}
		if t := o.Result.TLS; t != nil {
			gauge(vServiceVerif, boolValue(t.Verified), cl.Name, o.Service.Name)
			gauge(vServiceCert, float64(t.LeafNotAfter.Unix()), cl.Name, o.Service.Name)
			gauge(vServiceChain, float64(t.ChainNotAfter.Unix()), cl.Name, o.Service.Name)
		}
	}
	gauge(windowOpenDesc, boolValue(s.Window.Open), cl.Name)
	if !s.Window.End.IsZero() {
		gauge(windowEndDesc, float64(s.Window.End.Unix()), cl.Name)
	}
	s.emitRoundTrip(ch)
}

// tlsLabel is the service_info tls label: none, starttls, implicit, or
// opportunistic (STARTTLS used when the server offers it).
func tlsLabel(s *config.Service) string {
	if s.Opportunistic() {
		return "opportunistic"
	}
	return s.TLSMode()
}
