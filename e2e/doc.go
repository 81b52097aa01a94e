// Package e2e holds the end-to-end scenarios of mailcluster_exporter: a real
// two-node keepalived + Postfix + Dovecot-replication cluster in network
// namespaces (e2e/testbed), the exporter on each node plus an agentless one,
// Prometheus with the bundled rules and Alertmanager. Every assertion goes
// through Prometheus's (or Alertmanager's) HTTP API, queried from inside the
// testbed's client namespace.
//
// The tests carry the build tag `e2e` and need root and a running testbed:
//
//	make e2e          # = make build && e2e/run.sh (up.sh, go test -tags e2e, down.sh)
//
// See e2e/README.md.
package e2e
