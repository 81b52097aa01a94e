package clpstat

// The state vocabularies below are those printed by clpstat (EXPRESSCLUSTER
// X Reference Guide, "Displaying the cluster status (clpstat command)"; the
// group states are also attested by the EXPRESSCLUSTER REST API values used
// in EXPRESSCLUSTER/Cluster-Set script/Recover-Group.ps1). Comparison is
// case-insensitive with blanks collapsed. Anything else classifies as
// Unknown, never as healthy.

// ServerClass is what a server state means for the mapping.
type ServerClass int

// Server classes.
const (
	ServerUnknown    ServerClass = iota // Unknown, or not in the vocabulary
	ServerUp                            // Online, Caution (a heartbeat is abnormal, the server runs)
	ServerSuspended                     // Suspension (cluster suspended: no failover)
	ServerDown                          // Offline, Isolated
	ServerTransition                    // Online Pending, Offline Pending (cluster service starting / stopping)
)

// ClassifyServer maps a server state.
func ClassifyServer(state string) ServerClass {
	switch normState(state) {
	case "online", "caution":
		return ServerUp
	case "suspension", "suspend", "suspended":
		return ServerSuspended
	case "offline", "isolated", "stopped":
		return ServerDown
	case "online pending", "offline pending":
		return ServerTransition
	}
	return ServerUnknown
}

// GroupClass is what a group (or group resource) state means.
type GroupClass int

// Group classes.
const (
	GroupUnknown GroupClass = iota // Unknown, or not in the vocabulary
	GroupOnline                    // Online
	GroupCaution                   // Caution: online, a resource or monitor complains
	GroupOffline                   // Offline, Stopped
	GroupPending                   // Online Pending, Offline Pending
	GroupFailed                    // Online Failure, Offline Failure
)

// ClassifyGroup maps a group or group-resource state.
func ClassifyGroup(state string) GroupClass {
	switch normState(state) {
	case "online":
		return GroupOnline
	case "caution", "online caution":
		return GroupCaution
	case "offline", "stopped":
		return GroupOffline
	case "online pending", "offline pending":
		return GroupPending
	case "online failure", "offline failure", "online failed", "offline failed", "error":
		return GroupFailed
	}
	return GroupUnknown
}

// MonitorClass is what a monitor resource state means.
type MonitorClass int

// Monitor classes.
const (
	MonitorUnknown    MonitorClass = iota // Unknown, or not in the vocabulary
	MonitorNormal                         // Normal
	MonitorWarning                        // Warning, Caution
	MonitorError                          // Error
	MonitorStopped                        // Offline, Suspend, Unused / Not Used (stopped on purpose)
	MonitorTransition                     // Online Pending, Offline Pending
)

// ClassifyMonitor maps a monitor resource state.
func ClassifyMonitor(state string) MonitorClass {
	switch normState(state) {
	case "normal":
		return MonitorNormal
	case "warning", "caution":
		return MonitorWarning
	case "error":
		return MonitorError
	case "offline", "suspend", "suspended", "unused", "not used", "stopped":
		return MonitorStopped
	case "online pending", "offline pending":
		return MonitorTransition
	}
	return MonitorUnknown
}

// HBClass is what a heartbeat (or network-partition resolution) state means.
type HBClass int

// Heartbeat classes.
const (
	HBUnknown HBClass = iota // Unknown, or not in the vocabulary
	HBNormal                 // Normal: every server communicates over it
	HBCaution                // Caution: some server cannot
	HBError                  // Error: it does not work
	HBUnused                 // Unused / Not Used
	HBOffline                // Offline: the cluster service is stopped
)

// ClassifyHeartbeat maps a heartbeat state.
func ClassifyHeartbeat(state string) HBClass {
	switch normState(state) {
	case "normal":
		return HBNormal
	case "caution", "warning":
		return HBCaution
	case "error":
		return HBError
	case "unused", "not used":
		return HBUnused
	case "offline":
		return HBOffline
	}
	return HBUnknown
}
