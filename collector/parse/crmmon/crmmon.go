// Package crmmon parses the XML status of a Pacemaker cluster as printed by
// `crm_mon --output-as=xml` (Pacemaker 2.x and 3.x, root <pacemaker-result>)
// or the legacy `crm_mon --as-xml` (Pacemaker 1.1 and 2.0, root <crm_mon>),
// and maps it onto the facts vocabulary (package facts).
//
// Parse does not judge: it returns what crm_mon printed, flattened into
// nodes, primitive resource instances (with their enclosing group, clone or
// bundle) and failed actions. NodeFacts applies the mapping documented on it.
package crmmon

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is one crm_mon XML document.
type Status struct {
	// Format is the root element: "pacemaker-result" or "crm_mon" (legacy).
	Format string
	// Version is crm_mon@version (legacy) or pacemaker-result@api-version.
	Version string
	// DC is the name of the designated controller, "" when there is none.
	DC string
	// WithQuorum is false when the partition crm_mon sees has lost quorum.
	WithQuorum bool
	// MaintenanceMode is cluster_options@maintenance-mode: Pacemaker manages
	// no resource at all (no failover).
	MaintenanceMode bool
	// StopAllResources is cluster_options@stop-all-resources.
	StopAllResources bool
	Nodes            []Node
	Resources        []Resource
	Failures         []Failure
	FenceEvents      []FenceEvent
}

// Node is one entry of <nodes>.
type Node struct {
	Name          string
	ID            string
	Type          string // member, remote, ping; "" in old output
	Online        bool
	Standby       bool
	StandbyOnFail bool
	Maintenance   bool
	Pending       bool
	Unclean       bool
	Shutdown      bool
	ExpectedUp    bool
	IsDC          bool
	// Guest is true for guest and bundle nodes (id_as_resource is set).
	Guest bool
}

// Resource is one primitive resource instance. Clones list one instance per
// clone copy; an instance not running anywhere has no Nodes.
type Resource struct {
	ID    string
	Agent string // resource_agent, e.g. "ocf:heartbeat:IPaddr2"
	// Role is as printed: Started, Stopped, Starting, Stopping, Promoted,
	// Unpromoted, Master, Slave, Migrating, Unknown...
	Role       string
	TargetRole string
	Active     bool
	Failed     bool
	Managed    bool
	Blocked    bool
	Orphaned   bool
	// Nodes are the nodes the instance is active on (normally one).
	Nodes []string
	// Group is the id of the enclosing group ("" if none). Inside a cloned
	// group it carries the instance suffix (e.g. "mysql-group:1").
	Group string
	// Clone is the id of the enclosing clone ("" if none).
	Clone string
	// Promotable is true inside a promotable (multi_state) clone.
	Promotable bool
	// Bundle is the id of the enclosing bundle ("" if none).
	Bundle string
}

// Promoted reports whether the instance runs in the promoted role
// (Promoted since Pacemaker 2.1, Master before).
func (r Resource) Promoted() bool {
	return r.Role == "Promoted" || r.Role == "Master"
}

// Running reports whether the instance is active and not failed.
func (r Resource) Running() bool {
	if !r.Active || r.Failed {
		return false
	}
	switch r.Role {
	case "Started", "Promoted", "Unpromoted", "Master", "Slave":
		return true
	}
	return false
}

// Failure is one entry of <failures> (crm_mon's "Failed Resource Actions").
type Failure struct {
	OpKey      string // e.g. "Email_start_0"
	Resource   string // resource id derived from OpKey
	Task       string
	Node       string
	ExitStatus string // text, e.g. "not installed"
	ExitReason string
	ExitCode   int
	Status     string // execution status, e.g. "complete", "Timed Out"
}

// FenceEvent is one entry of <fence_history>.
type FenceEvent struct {
	Target string
	Action string
	State  string // success, failed, pending
}

// xml shapes

type xmlDoc struct {
	XMLName    xml.Name
	Version    string      `xml:"version,attr"`
	APIVersion string      `xml:"api-version,attr"`
	Summary    *xmlSummary `xml:"summary"`
	Nodes      *struct {
		Node []xmlNode `xml:"node"`
	} `xml:"nodes"`
	Resources *struct {
		Items []xmlItem `xml:",any"`
	} `xml:"resources"`
	Failures struct {
		Failure []xmlFailure `xml:"failure"`
	} `xml:"failures"`
	FenceHistory struct {
		Event []struct {
			Target string `xml:"target,attr"`
			Action string `xml:"action,attr"`
			State  string `xml:"state,attr"`
		} `xml:"fence_event"`
	} `xml:"fence_history"`
	Result *struct {
		Code    string   `xml:"code,attr"`
		Message string   `xml:"message,attr"`
		Errors  []string `xml:"errors>error"`
	} `xml:"status"`
}

type xmlSummary struct {
	DC struct {
		Present    string `xml:"present,attr"`
		Name       string `xml:"name,attr"`
		WithQuorum string `xml:"with_quorum,attr"`
	} `xml:"current_dc"`
	Options struct {
		Maintenance string `xml:"maintenance-mode,attr"`
		StopAll     string `xml:"stop-all-resources,attr"`
	} `xml:"cluster_options"`
}

type xmlNode struct {
	Name          string `xml:"name,attr"`
	ID            string `xml:"id,attr"`
	Type          string `xml:"type,attr"`
	Online        string `xml:"online,attr"`
	Standby       string `xml:"standby,attr"`
	StandbyOnFail string `xml:"standby_onfail,attr"`
	Maintenance   string `xml:"maintenance,attr"`
	Pending       string `xml:"pending,attr"`
	Unclean       string `xml:"unclean,attr"`
	Shutdown      string `xml:"shutdown,attr"`
	ExpectedUp    string `xml:"expected_up,attr"`
	IsDC          string `xml:"is_dc,attr"`
	IDAsResource  string `xml:"id_as_resource,attr"`
}

// xmlItem is any element under <resources>: resource, group, clone,
// bundle, replica.
type xmlItem struct {
	XMLName    xml.Name
	ID         string    `xml:"id,attr"`
	Agent      string    `xml:"resource_agent,attr"`
	Role       string    `xml:"role,attr"`
	TargetRole string    `xml:"target_role,attr"`
	Active     string    `xml:"active,attr"`
	Failed     string    `xml:"failed,attr"`
	Managed    string    `xml:"managed,attr"`
	Blocked    string    `xml:"blocked,attr"`
	Orphaned   string    `xml:"orphaned,attr"`
	MultiState string    `xml:"multi_state,attr"`
	Nodes      []xmlRef  `xml:"node"`
	Children   []xmlItem `xml:",any"`
}

type xmlRef struct {
	Name string `xml:"name,attr"`
}

type xmlFailure struct {
	OpKey      string `xml:"op_key,attr"`
	Node       string `xml:"node,attr"`
	ExitStatus string `xml:"exitstatus,attr"`
	ExitReason string `xml:"exitreason,attr"`
	ExitCode   string `xml:"exitcode,attr"`
	Status     string `xml:"status,attr"`
	Task       string `xml:"task,attr"`
}

// Parse reads one crm_mon XML document. It fails on malformed XML (the
// error names the line), on an unknown root element, on a pacemaker-result
// whose status code is not 0 (crm_mon could not reach the cluster; the
// error carries its message), and when <nodes> is missing.
func Parse(r io.Reader) (*Status, error) {
	dec := xml.NewDecoder(r)
	var doc xmlDoc
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("crm_mon XML: no XML element in the input (empty output?)")
		}
		// xml.SyntaxError names the line ("XML syntax error on line N").
		return nil, fmt.Errorf("crm_mon XML: %w", err)
	}
	st := &Status{Format: doc.XMLName.Local}
	switch doc.XMLName.Local {
	case "pacemaker-result":
		st.Version = doc.APIVersion
		if doc.Result != nil && strings.TrimSpace(doc.Result.Code) != "0" {
			msg := doc.Result.Message
			if len(doc.Result.Errors) > 0 {
				msg += ": " + strings.Join(doc.Result.Errors, "; ")
			}
			return nil, fmt.Errorf("crm_mon failed: status code %q: %s", doc.Result.Code, strings.TrimSpace(msg))
		}
	case "crm_mon":
		st.Version = doc.Version
	default:
		return nil, fmt.Errorf("crm_mon XML: unexpected root element <%s> (want <pacemaker-result> or <crm_mon>)", doc.XMLName.Local)
	}
	if doc.Nodes == nil {
		return nil, fmt.Errorf("crm_mon XML: no <nodes> element in <%s>", st.Format)
	}
	if doc.Summary != nil {
		if isTrue(doc.Summary.DC.Present) {
			st.DC = doc.Summary.DC.Name
		}
		st.WithQuorum = isTrue(doc.Summary.DC.WithQuorum)
		st.MaintenanceMode = isTrue(doc.Summary.Options.Maintenance)
		st.StopAllResources = isTrue(doc.Summary.Options.StopAll)
	}
	for i, n := range doc.Nodes.Node {
		if n.Name == "" {
			return nil, fmt.Errorf("crm_mon XML: <nodes>: node #%d has no name attribute", i+1)
		}
		st.Nodes = append(st.Nodes, Node{
			Name: n.Name, ID: n.ID, Type: n.Type,
			Online: isTrue(n.Online), Standby: isTrue(n.Standby),
			StandbyOnFail: isTrue(n.StandbyOnFail), Maintenance: isTrue(n.Maintenance),
			Pending: isTrue(n.Pending), Unclean: isTrue(n.Unclean),
			Shutdown: isTrue(n.Shutdown), ExpectedUp: isTrue(n.ExpectedUp),
			IsDC: isTrue(n.IsDC), Guest: n.IDAsResource != "",
		})
	}
	if doc.Resources != nil {
		for _, it := range doc.Resources.Items {
			st.flatten(it, Resource{Managed: true})
		}
	}
	for _, f := range doc.Failures.Failure {
		code, _ := strconv.Atoi(strings.TrimSpace(f.ExitCode))
		st.Failures = append(st.Failures, Failure{
			OpKey: f.OpKey, Resource: resourceOfOpKey(f.OpKey, f.Task), Task: taskOf(f),
			Node: f.Node, ExitStatus: f.ExitStatus, ExitReason: f.ExitReason,
			ExitCode: code, Status: f.Status,
		})
	}
	for _, e := range doc.FenceHistory.Event {
		st.FenceEvents = append(st.FenceEvents, FenceEvent{Target: e.Target, Action: e.Action, State: e.State})
	}
	return st, nil
}

// flatten walks the resource tree (its depth is bounded by encoding/xml's
// nesting limit); ctx carries the enclosing group, clone or bundle.
func (st *Status) flatten(it xmlItem, ctx Resource) {
	switch it.XMLName.Local {
	case "resource":
		r := ctx
		r.ID, r.Agent, r.Role, r.TargetRole = it.ID, it.Agent, it.Role, it.TargetRole
		r.Active, r.Failed, r.Blocked, r.Orphaned = isTrue(it.Active), isTrue(it.Failed), isTrue(it.Blocked), isTrue(it.Orphaned)
		r.Managed = it.Managed == "" || isTrue(it.Managed)
		r.Nodes = nil
		for _, n := range it.Nodes {
			if n.Name != "" {
				r.Nodes = append(r.Nodes, n.Name)
			}
		}
		st.Resources = append(st.Resources, r)
		return
	case "group":
		ctx.Group = it.ID
	case "clone":
		ctx.Clone = it.ID
		ctx.Promotable = isTrue(it.MultiState)
	case "bundle":
		ctx.Bundle = it.ID
	case "replica":
	default:
		return // unknown element: ignored (forward compatibility)
	}
	for _, c := range it.Children {
		st.flatten(c, ctx)
	}
}

func taskOf(f xmlFailure) string {
	if f.Task != "" {
		return f.Task
	}
	// op_key is <rsc>_<task>_<interval>
	k := f.OpKey
	if i := strings.LastIndexByte(k, '_'); i > 0 {
		k = k[:i]
		for _, t := range knownTasks {
			if strings.HasSuffix(k, "_"+t) {
				return t
			}
		}
	}
	return ""
}

var knownTasks = []string{"migrate_to", "migrate_from", "start", "stop", "monitor", "promote", "demote", "notify", "reload-agent", "reload", "probe", "meta-data", "validate-all"}

// resourceOfOpKey strips "_<task>_<interval>" from an operation key.
func resourceOfOpKey(key, task string) string {
	i := strings.LastIndexByte(key, '_')
	if i <= 0 {
		return key
	}
	if _, err := strconv.ParseUint(key[i+1:], 10, 64); err != nil {
		return key
	}
	rest := key[:i]
	tasks := knownTasks
	if task != "" {
		tasks = append([]string{task}, knownTasks...)
	}
	for _, t := range tasks {
		if strings.HasSuffix(rest, "_"+t) && len(rest) > len(t)+1 {
			return rest[:len(rest)-len(t)-1]
		}
	}
	return key
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}
