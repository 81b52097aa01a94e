// Package clpstat parses the text output of NEC EXPRESSCLUSTER X /
// CLUSTERPRO X status commands and maps it onto the shared fact vocabulary
// (collector/facts):
//
//   - clpstat (default view, -s, --long, with or without the comment column,
//     Linux and Windows layouts): Parse → *Status, then Status.NodeFacts.
//   - clpstat -g (GROUPMAP INFORMATION) and clpstat --hb (HEARTBEAT RESOURCE
//     STATUS, the per-server o/x/- matrix): parsed by the same Parse, in the
//     same input or separately.
//   - clpmdstat --mirror <md> and clpmdstat --active <md>: ParseMirror →
//     *Mirror, then Mirror.NodeFacts.
//
// # Layout handled
//
// Every clpstat view is framed: a title line ` ====  CLUSTER STATUS  ====`
// and a closing line of `=`. Inside CLUSTER STATUS, `<server>`, `<group>`
// and `<monitor>` open sections. An entity line is `name ....: State
// [comment]`: the name is dot-padded (wider with --long) and truncated to 16
// characters in the normal view; the local server carries a `*` before its
// name. Lines indented deeper than the entity above them belong to it: the
// heartbeat / network-partition resources of a server, and `current` plus
// the group resources of a group. The state is the text up to the first run
// of two or more spaces (states such as "Online Pending" contain one space;
// the state column is padded to 17 characters, so a comment or a heartbeat
// type is always two or more spaces away). Trailing padding, CRLF line ends
// and a person's annotation after `current : server2` are tolerated.
//
// # Mapping (Status.NodeFacts) — as a CLUSTERPRO administrator reads clpstat
//
// The exporter runs clpstat on the node named by --cluster.node. The server
// marked `*` is that node. Facts are produced for the servers of the group's
// failover policy (the priorities passed in; all servers if none):
//
//   - Server Online/Caution: the cluster service runs there. It is **active**
//     if it is the group's `current` server and the group is Online (or
//     Caution: the group runs, a resource or monitor complains); otherwise
//     **standby**. RedundancyEnabled = true.
//   - Server Suspension (clpcl --suspend, the usual maintenance step): groups
//     stay where they are but nothing fails over. Roles as above,
//     RedundancyEnabled = false, so the rules see "redundancy disabled".
//   - Server Offline / Isolated: **offline**.
//   - Server Online Pending / Offline Pending (cluster service starting or
//     stopping), Unknown, or any state not in the vocabulary: **unknown**.
//   - Group Online Pending / Offline Pending (starting, stopping, failing
//     over) and Online Failure / Offline Failure (activation or deactivation
//     failed; after Offline Failure resources may still be held) make the
//     `current` server **unknown**, with the group state as RoleCause: the
//     server is neither serving nor a safe standby, and an on-call engineer
//     must look. A group Offline everywhere (`current : None`) leaves every
//     up server standby, so the rules report no_active.
//   - If the local server itself is not up (its cluster service is stopped
//     or starting), clpstat cannot know the other servers (it prints them
//     all Offline), so only the local server's fact is produced.
//   - Placement: Status.Placement reports the group's current server and
//     whether it is the first priority; NodeFacts also notes "not on the
//     preferred server" in the active node's RoleCause. The preferred node
//     itself comes from configuration (preferred_active), not from clpstat.
//
// Peer reachability: on the local server only, PeerUp[other] is taken from
// the --hb matrix row of that server in the local server's view when printed
// (any `o` = up; only `x` = down; only `-` = not reported); otherwise from
// the status view: the other server is up (Online/Caution/Suspension) and at
// least one of its heartbeat lines is Normal or Caution (network-partition
// resolution resources such as pingnp/httpnp are not heartbeats).
//
// Monitor resources: Error (and Warning/Caution) are observations, not a
// source failure — the command ran and its output parsed, so source_up stays
// 1. They are listed by Status.Unhealthy and appended to the active node's
// RoleCause (logged by the collector); the service probes report the effect
// on mail. The metric contract has no per-resource metric today.
//
// Mirror disks (Mirror.NodeFacts): see clpmdstat.go.
package clpstat
