package drbd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// Options select and name what NodeFacts reports.
type Options struct {
	// Resources are the resource names (8.x: minor numbers) to report on;
	// empty means every configured resource in the input. A named resource
	// that is missing is taken as down (drbdsetup lists only resources that
	// are up), i.e. sync disabled.
	Resources []string
	// Rename maps a DRBD peer name (connection name; PeerName8 for
	// /proc/drbd) to the exporter's node name; names not listed are kept.
	Rename map[string]string
}

// Role maps a DRBD role: Primary -> active, Secondary -> standby, anything
// else (Unknown, "") -> unknown.
func Role(role string) facts.Role {
	switch role {
	case "Primary":
		return facts.RoleActive
	case "Secondary":
		return facts.RoleStandby
	}
	return facts.RoleUnknown
}

// PeerUp maps a connection state: Connected (DRBD 9, and 8.x states with a
// live link) -> true, anything else (Connecting, StandAlone, WFConnection,
// Disconnecting, NetworkFailure...) -> false.
func PeerUp(connectionState string) bool {
	return connectionState == "Connected" || connected8[connectionState]
}

var syncingStates = map[string]bool{
	"SyncSource": true, "SyncTarget": true, "PausedSyncS": true, "PausedSyncT": true,
	"StartingSyncS": true, "StartingSyncT": true, "WFBitMapS": true, "WFBitMapT": true,
	"WFSyncUUID": true, "Ahead": true, "Behind": true,
}

// SyncState maps one peer device (with the local disk state of the same
// volume and the connection state) to a sync state:
//
//   - connection not Connected (StandAlone: split brain or disconnected,
//     Connecting, WFConnection with the peer DUnknown...) -> out_of_sync;
//   - replication SyncSource/SyncTarget/PausedSync*/StartingSync*/WFBitMap*/
//     WFSyncUUID, or Ahead/Behind (congestion: resync follows) -> syncing;
//   - replication Established or VerifyS/VerifyT (online verify) with both
//     disks UpToDate -> synced;
//   - Established with a disk Outdated, Inconsistent, Diskless, Failed,
//     DUnknown... and no resync -> out_of_sync (a diskless DRBD 9 client,
//     local or peer, is skipped by the caller: it holds no data);
//   - replication Off while connected -> out_of_sync;
//   - anything else (unknown words, transitional Attaching...) -> unknown.
func SyncState(connectionState, replication, localDisk, peerDisk string) facts.SyncState {
	if !PeerUp(connectionState) {
		return facts.SyncOutOfSync
	}
	switch {
	case syncingStates[replication]:
		return facts.SyncSyncing
	case replication == "Established" || replication == "VerifyS" || replication == "VerifyT":
		if localDisk == "UpToDate" && peerDisk == "UpToDate" {
			return facts.SyncSynced
		}
		if badDisk[localDisk] || badDisk[peerDisk] {
			return facts.SyncOutOfSync
		}
		return facts.SyncUnknown
	case replication == "Off":
		return facts.SyncOutOfSync
	}
	return facts.SyncUnknown
}

var badDisk = map[string]bool{
	"Outdated": true, "Inconsistent": true, "Diskless": true, "Failed": true,
	"DUnknown": true, "Detaching": true, "Consistent": true,
}

// NodeFacts maps the resources onto the facts of the local node.
//
// Role: Primary -> active, Secondary -> standby, others unknown; when the
// selected resources disagree (one Primary, one Secondary) -> unknown with a
// cause. A resource that is down or Unconfigured gives role standby (it
// cannot be serving) and sync disabled.
//
// PeerUp: per peer, up only if every connection to it is Connected.
//
// SyncState: the worst over every volume of every peer (facts.WorseSync);
// SyncProgress (0..1) is the lowest resync progress reported (done:,
// sync'ed:, percent-resync-done, else percent-in-sync) while syncing;
// SyncPending["bytes"] is the sum of out-of-sync KiB*1024 where reported.
func NodeFacts(res []Resource, opt Options) *facts.Node {
	n := &facts.Node{}
	var causes []string
	sel := selectResources(res, opt.Resources, &causes)
	var roles []string
	var down int
	var progress *float64
	var pending float64
	var pendingSeen bool
	for _, r := range sel {
		if r == nil || r.Unconfigured {
			down++
			n.SyncState = facts.WorseSync(n.SyncState, facts.SyncDisabled)
			continue
		}
		roles = append(roles, r.Name+":"+r.Role)
		if r.Suspended != "" && r.Suspended != "no" {
			causes = append(causes, fmt.Sprintf("%s: I/O suspended (%s)", r.Name, r.Suspended))
		}
		local := map[int]Device{}
		for _, d := range r.Devices {
			local[d.Volume] = d
		}
		if len(r.Connections) == 0 {
			n.SyncState = facts.WorseSync(n.SyncState, facts.SyncOutOfSync)
			causes = append(causes, r.Name+": no peer connection")
		}
		for _, c := range r.Connections {
			peer := c.Peer
			if nm, ok := opt.Rename[peer]; ok && nm != "" {
				peer = nm
			}
			if n.PeerUp == nil {
				n.PeerUp = map[string]bool{}
			}
			up := PeerUp(c.ConnectionState)
			if old, ok := n.PeerUp[peer]; !ok || old {
				n.PeerUp[peer] = up
			}
			if !up {
				n.SyncState = facts.WorseSync(n.SyncState, facts.SyncOutOfSync)
				causes = append(causes, fmt.Sprintf("%s: connection to %s %s", r.Name, c.Peer, orUnknown(c.ConnectionState)))
				for _, pd := range c.PeerDevices {
					if pd.OutOfSyncKiB != nil {
						pending += *pd.OutOfSyncKiB * 1024
						pendingSeen = true
					}
				}
				continue
			}
			if len(c.PeerDevices) == 0 {
				n.SyncState = facts.WorseSync(n.SyncState, facts.SyncUnknown)
			}
			for _, pd := range c.PeerDevices {
				d, ok := local[pd.Volume]
				if ok && d.Client || pd.PeerClient {
					continue // diskless client: nothing replicated
				}
				ldisk := d.DiskState
				st := SyncState(c.ConnectionState, pd.ReplicationState, ldisk, pd.PeerDiskState)
				if st == facts.SyncOutOfSync && resyncQueued(pd) {
					// A resync waiting its turn (behind another peer's
					// resync, or paused): DRBD resumes it by itself.
					st = facts.SyncSyncing
				}
				n.SyncState = facts.WorseSync(n.SyncState, st)
				if st != facts.SyncSynced {
					causes = append(causes, fmt.Sprintf("%s/%d to %s: %s, disk %s/%s", r.Name, pd.Volume, c.Peer,
						orUnknown(pd.ReplicationState), orUnknown(ldisk), orUnknown(pd.PeerDiskState)))
				}
				if st == facts.SyncSyncing {
					var p *float64
					switch {
					case pd.Done != nil:
						p = fptr(clamp01(*pd.Done / 100))
					case pd.PercentInSync != nil:
						p = fptr(clamp01(*pd.PercentInSync / 100))
					}
					if p != nil && (progress == nil || *p < *progress) {
						progress = p
					}
				}
				if pd.OutOfSyncKiB != nil {
					pending += *pd.OutOfSyncKiB * 1024
					pendingSeen = true
				}
			}
		}
	}
	n.Role = aggregateRole(roles, down, &causes)
	if n.SyncState == facts.SyncSyncing {
		n.SyncProgress = progress
	}
	if pendingSeen {
		n.SyncPending = map[string]float64{"bytes": pending}
	}
	if len(sel) == 0 {
		// nothing up at all (empty JSON array, only Unconfigured minors)
		n.Role = facts.RoleStandby
		n.SyncState = facts.SyncDisabled
		causes = append(causes, "no DRBD resource is up")
	}
	if len(causes) > 5 {
		causes = append(causes[:5], fmt.Sprintf("and %d more", len(causes)-5))
	}
	n.RoleCause = strings.Join(causes, "; ")
	return n
}

// resyncQueued: the peer device is connected but its resync is suspended
// (resync-suspended: peer, dependency, user), as in a three-node resource
// that resyncs from one peer before the other.
func resyncQueued(pd PeerDevice) bool {
	return pd.ResyncSuspended != "" && pd.ResyncSuspended != "no" &&
		(pd.ReplicationState == "Established" || syncingStates[pd.ReplicationState])
}

func aggregateRole(roles []string, down int, causes *[]string) facts.Role {
	if len(roles) == 0 {
		if down > 0 {
			*causes = append(*causes, "DRBD resource down")
			return facts.RoleStandby
		}
		return facts.RoleUnknown
	}
	seen := map[facts.Role]bool{}
	for _, r := range roles {
		_, role, _ := strings.Cut(r, ":")
		seen[Role(role)] = true
	}
	if len(seen) == 1 && down == 0 {
		for r := range seen {
			return r
		}
	}
	if len(seen) == 1 && seen[facts.RoleStandby] {
		return facts.RoleStandby // Secondary + down: not serving
	}
	sort.Strings(roles)
	*causes = append(*causes, "resources disagree on the role: "+strings.Join(roles, ", "))
	return facts.RoleUnknown
}

func selectResources(res []Resource, names []string, causes *[]string) []*Resource {
	var out []*Resource
	if len(names) == 0 {
		for i := range res {
			if !res[i].Unconfigured {
				out = append(out, &res[i])
			}
		}
		return out
	}
	for _, name := range names {
		var found *Resource
		for i := range res {
			if res[i].Name == name {
				found = &res[i]
				break
			}
		}
		if found == nil {
			*causes = append(*causes, fmt.Sprintf("resource %s not found (down or not configured)", name))
		}
		out = append(out, found) // nil = down
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func clamp01(f float64) float64 {
	if f < 0 || f != f {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}
