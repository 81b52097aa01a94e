// Package drbd parses DRBD replication status and maps it onto the facts
// vocabulary (package facts). Three inputs share one model:
//
//   - ParseJSON: `drbdsetup status --json` (DRBD 9; tolerates the bare
//     `nan` that drbdsetup prints for unknown numbers, which is not JSON);
//   - ParseStatus: `drbdadm status` and `drbdsetup status [--verbose
//     --statistics]` text (DRBD 9), including lines wrapped for display;
//   - ParseProc: /proc/drbd of DRBD 8.0 (`st:`), 8.3 and 8.4 (`ro:`),
//     including the resync progress lines.
//
// In the model a resource has local devices (volumes) and connections to
// peers, each with peer devices. /proc/drbd minors become resources named
// by their minor number, with one connection to a peer named "peer".
package drbd

// Resource is one DRBD resource (DRBD 9) or one minor (DRBD 8.x).
type Resource struct {
	Name string
	// Role is the local role: Primary, Secondary or Unknown.
	Role string
	// Suspended is the suspension reason ("no" or "" when not suspended).
	Suspended string
	// Unconfigured is set for an 8.x minor with cs:Unconfigured.
	Unconfigured bool
	Devices      []Device
	Connections  []Connection
}

// Device is a local volume.
type Device struct {
	Volume    int
	Minor     int // -1 when not reported
	DiskState string
	Client    bool // DRBD 9 intentionally diskless client
}

// Connection is the link to one peer.
type Connection struct {
	Peer string
	// ConnectionState is Connected, Connecting, StandAlone, ... For 8.x it
	// is "Connected" whenever the cs: state implies a live link (Connected,
	// SyncSource, VerifyS, ...), else the cs: value (WFConnection...).
	ConnectionState string
	PeerRole        string
	PeerDevices     []PeerDevice
}

// PeerDevice is the replication of one volume to one peer.
type PeerDevice struct {
	Volume int
	// ReplicationState is Established, SyncSource, SyncTarget, PausedSyncS,
	// VerifyS, Ahead, Off, ... ("" when the text omits it, which means
	// Established).
	ReplicationState string
	PeerDiskState    string
	ResyncSuspended  string
	PeerClient       bool
	// OutOfSyncKiB is the amount still to replicate (nil if not reported).
	OutOfSyncKiB *float64
	// Done is the resync progress in percent (nil if not reported).
	Done *float64
	// PercentInSync is DRBD 9's percent-in-sync (nil if not reported).
	PercentInSync *float64
}

func fptr(f float64) *float64 { return &f }
