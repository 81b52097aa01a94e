package config

import "github.com/prometheus/common/model"

// Source is one fact source of a cluster, written blackbox-style: a `type`
// and a block of the same name holding that type's settings.
type Source struct {
	Type string `yaml:"type"`
	// Name is the `source` label; it defaults to the type. Two sources of
	// one cluster must not share a name.
	Name string `yaml:"name"`

	Service      *ServiceSource      `yaml:"service"`
	VIPLocal     *VIPLocalSource     `yaml:"vip_local"`
	Keepalived   *KeepalivedSource   `yaml:"keepalived"`
	Pacemaker    *PacemakerSource    `yaml:"pacemaker"`
	DRBD         *DRBDSource         `yaml:"drbd"`
	Dovecot      *DovecotSource      `yaml:"dovecot"`
	Marker       *MarkerSource       `yaml:"marker"`
	PeerTCP      *PeerTCPSource      `yaml:"peer_tcp"`
	QueueDir     *QueueDirSource     `yaml:"queue_dir"`
	PostfixQueue *PostfixQueueSource `yaml:"postfix_queue"`
	Command      *CommandSource      `yaml:"command"`
	HTTP         *HTTPSource         `yaml:"http"`
	Version      *VersionSource      `yaml:"version"`
	Clpstat      *ClpstatSource      `yaml:"clpstat"`
	Solaris      *SolarisSource      `yaml:"solaris"`
	MFilter      *MFilterSource      `yaml:"mfilter"`
}

// Command is an argv run without a shell, under the scrape deadline and
// the output cap.
type Command struct {
	Argv    []string       `yaml:"argv"`
	Timeout model.Duration `yaml:"timeout"`
	// Env adds variables (KEY=value) to a minimal environment.
	Env []string `yaml:"env"`
}

// ServiceSource infers roles from the outside (agentless): a node whose own
// address answers PrimaryService serves (active); one that does not but
// answers a liveness check is standby; one that answers nothing is offline.
type ServiceSource struct {
	PrimaryService string `yaml:"primary_service"`
}

// VIPLocalSource: active when the virtual address is on a local interface.
type VIPLocalSource struct {
	Address string `yaml:"address"` // default: the cluster's virtual_address
}

// KeepalivedSource reads keepalived's state.
type KeepalivedSource struct {
	Instance  string `yaml:"instance"`   // VRRP instance; default the only one
	StateFile string `yaml:"state_file"` // written by the documented notify script
	DataFile  string `yaml:"data_file"`  // --signum=DATA dump
	JSONFile  string `yaml:"json_file"`  // --signum=JSON dump
	PIDFile   string `yaml:"pid_file"`   // to tell whether keepalived runs
	// MaxStateAge: a state file older than this (and no running keepalived) is not trusted.
	MaxStateAge model.Duration `yaml:"max_state_age"`
}

// PacemakerSource reads `crm_mon --output-as=xml`.
type PacemakerSource struct {
	Command            Command `yaml:"command"`
	ResourceGroup      string  `yaml:"resource_group"`
	PromotableResource string  `yaml:"promotable_resource"`
}

// DRBDSource reads `drbdsetup status --json` or /proc/drbd.
type DRBDSource struct {
	Command  Command `yaml:"command"`
	ProcFile string  `yaml:"proc_file"`
	// Format of the input: json (drbdsetup status --json, the default),
	// text (drbdsetup/drbdadm status), events2 (drbdsetup events2 --now
	// --statistics) or proc (/proc/drbd of DRBD 8.x).
	Format   string `yaml:"format"`
	Resource string `yaml:"resource"`
	// Peers maps DRBD peer (connection) names to node names where they
	// differ; /proc/drbd names no peer, its peer is called "peer".
	Peers map[string]string `yaml:"peers"`
}

// DovecotSource reads Dovecot's replicator: the per-user table
// (`doveadm replicator status '*'`, text or -f json), the queue overview
// (`doveadm replicator status`) and the dsync connections
// (`doveadm replicator dsync-status`).
type DovecotSource struct {
	Command            Command `yaml:"command"`
	OverviewCommand    Command `yaml:"overview_command"`
	DsyncStatusCommand Command `yaml:"dsync_status_command"`
	// Peer is the node the replication goes to (mail_replica); default the
	// only other node of the cluster.
	Peer string `yaml:"peer"`
	// ConfigFile is passed to every default doveadm command as `-c FILE`
	// (a Dovecot instance with its own configuration).
	ConfigFile string `yaml:"config_file"`
}

// MarkerSource measures replication lag with a heartbeat file.
type MarkerSource struct {
	File string `yaml:"file"`
	// Write: the active node rewrites the file at each scrape.
	Write bool `yaml:"write"`
	// MaxLag: older than this on the standby → out_of_sync; else synced.
	MaxLag model.Duration `yaml:"max_lag"`
}

// PeerTCPSource connects from this node to its peers' sync/heartbeat ports.
type PeerTCPSource struct {
	Ports   []int          `yaml:"ports"`
	Timeout model.Duration `yaml:"timeout"`
}

// QueueDirSource measures spool directories.
type QueueDirSource struct {
	Queues []*QueueDir `yaml:"queues"`
}

// QueueDir is one measured directory.
type QueueDir struct {
	Name      string `yaml:"name"`
	Path      string `yaml:"path"`
	Recursive bool   `yaml:"recursive"`
	MaxFiles  int    `yaml:"max_files"`
}

// PostfixQueueSource reads `postqueue -j`.
type PostfixQueueSource struct {
	Command Command `yaml:"command"`
}

// The fact families a command or http source may declare in `provides`.
const (
	ProvidesRole = "role"
	ProvidesSync = "sync"
)

// CommandSource runs an argv printing the JSON contract (DESIGN.md §4).
type CommandSource struct {
	Command `yaml:",inline"`
	// Provides lists the fact families the adapter is responsible for
	// (role, sync); nil means both. A failed source leaves them unknown.
	Provides []string `yaml:"provides"`
}

// HTTPSource fetches the JSON contract (DESIGN.md §4) from a URL.
type HTTPSource struct {
	URL string `yaml:"url"`
	// Provides: as for CommandSource.
	Provides     []string       `yaml:"provides"`
	Timeout      model.Duration `yaml:"timeout"`
	Username     string         `yaml:"username"`
	PasswordFile string         `yaml:"password_file"`
	CAFile       string         `yaml:"ca_file"`
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// VersionSource reports the node's software version from a command.
type VersionSource struct {
	Command Command `yaml:"command"`
	// Regexp picks the version from the output (first group); default: whole trimmed output.
	Regexp string `yaml:"regexp"`
}

// ClpstatSource reads CLUSTERPRO / EXPRESSCLUSTER `clpstat` (and clpmdstat).
type ClpstatSource struct {
	Command       Command `yaml:"command"`
	Group         string  `yaml:"group"`
	MirrorCommand Command `yaml:"mirror_command"`
	// Server maps cluster server names to node names where they differ.
	Servers map[string]string `yaml:"servers"`
}

// SolarisSource reads Solaris Cluster status commands.
type SolarisSource struct {
	Command         Command           `yaml:"command"`          // clresourcegroup status (or scstat -g)
	NodeCommand     Command           `yaml:"node_command"`     // clnode status
	ResourceCommand Command           `yaml:"resource_command"` // clresource status
	ResourceGroup   string            `yaml:"resource_group"`
	StorageResource string            `yaml:"storage_resource"`
	Nodes           map[string]string `yaml:"nodes"`
}

// MFilterSource reads an m-FILTER style replication definition.
type MFilterSource struct {
	DefFile             string      `yaml:"def_file"`
	RestartRequiredFile string      `yaml:"restart_required_file"`
	VersionFile         string      `yaml:"version_file"`
	QueueDirs           []*QueueDir `yaml:"queue_dirs"`
}
