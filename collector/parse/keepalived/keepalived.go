// Package keepalived parses keepalived's VRRP state and maps it onto the
// facts vocabulary (package facts). Inputs:
//
//   - ParseData: the data dump written on `keepalived --signum=DATA`
//     (SIGUSR1) to /tmp/keepalived.data, keepalived 1.3 to 2.2+;
//   - ParseStats: the statistics dump of `--signum=STATS` (SIGUSR2),
//     /tmp/keepalived.stats;
//   - ParseJSON: the JSON dump of `--signum=JSON` (keepalived built with
//     --enable-json), /tmp/keepalived.json;
//   - ParseStateFile: the state file written by NotifyScript (no signal,
//     no root needed: the format is documented on ParseStateFile).
package keepalived

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

const maxLine = 64 * 1024

// Instance is one VRRP instance.
type Instance struct {
	Name string
	// State is MASTER, BACKUP, FAULT, INIT, STOP or DELETED (as printed).
	State     string
	WantState string
	Interface string
	VRID      int
	Priority  int
	// EffectivePriority is 0 when not reported.
	EffectivePriority int
	// LastTransition is the Unix time of the last state change, 0 if unknown.
	LastTransition float64
	// MasterRouter is the address of the master as seen by a BACKUP
	// (DATA dump only).
	MasterRouter string
	// MasterPriority is the priority in the master's adverts as seen by a
	// BACKUP (JSON dump only; 0 when none was heard).
	MasterPriority int
	// VIPs are the virtual addresses (first word of each line, e.g.
	// "10.1.0.1/24"); ExcludedVIPs those of virtual_ipaddress_excluded.
	VIPs         []string
	ExcludedVIPs []string
}

// Script is one vrrp_script with its last result.
type Script struct {
	Name   string
	Status string // GOOD, BAD, ...
}

// Stats are the counters of one instance.
type Stats struct {
	Name           string
	AdvertRcvd     uint64
	AdvertSent     uint64
	BecameMaster   uint64
	ReleasedMaster uint64
}

// Data is what one dump holds.
type Data struct {
	Instances []Instance
	Scripts   []Script
	Stats     []Stats // only from ParseJSON
}

// ParseData parses the --signum=DATA dump. Only the "VRRP Topology" and
// "VRRP Scripts" sections are read (keepalived 1.3.x prints the tracked
// scripts inside the instance; that is handled). Unknown lines are ignored;
// a known field with a malformed value is an error naming the line.
func ParseData(r io.Reader) (*Data, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	d := &Data{}
	section := ""
	var inst *Instance
	var script *Script
	var vipList *[]string
	vipIndent := 0
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		text := strings.TrimLeft(line, " \t")
		if text == "" {
			continue
		}
		indent := len(line) - len(text)
		if strings.HasPrefix(text, "------<") {
			section = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(text, "------<"), ">------"))
			inst, script, vipList = nil, nil, nil
			continue
		}
		if vipList != nil {
			if indent > vipIndent {
				if f := strings.Fields(text); len(f) > 0 && inst != nil {
					*vipList = append(*vipList, f[0])
				}
				continue
			}
			vipList = nil
		}
		key, val, isKV := strings.Cut(text, " = ")
		if !isKV {
			key, val, isKV = strings.Cut(text, " =")
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch section {
		case "VRRP Topology", "":
		case "VRRP Scripts":
			if isKV && key == "VRRP Script" {
				d.Scripts = append(d.Scripts, Script{Name: val})
				script = &d.Scripts[len(d.Scripts)-1]
			} else if isKV && key == "Status" && script != nil {
				script.Status = val
			}
			continue
		default:
			continue
		}
		if isKV && key == "VRRP Instance" {
			if val == "" {
				return nil, fmt.Errorf("keepalived data: line %d: VRRP Instance without a name", lineNo)
			}
			d.Instances = append(d.Instances, Instance{Name: val})
			inst = &d.Instances[len(d.Instances)-1]
			script = nil
			continue
		}
		if inst == nil {
			continue
		}
		if isKV && key == "VRRP Script" { // 1.3.x: tracked script inside the instance
			d.Scripts = append(d.Scripts, Script{Name: val})
			script = &d.Scripts[len(d.Scripts)-1]
			continue
		}
		if strings.HasPrefix(text, "Virtual IP") {
			// "Virtual IP = 1" (1.3), "Virtual IP :" (2.1), "Virtual IP (1):" (2.2),
			// "Virtual IP Excluded :"
			vipIndent = indent
			if strings.HasPrefix(text, "Virtual IP Excluded") {
				vipList = &inst.ExcludedVIPs
			} else {
				vipList = &inst.VIPs
			}
			continue
		}
		if !isKV {
			continue
		}
		if script != nil {
			if key == "Status" {
				script.Status = val
			}
			if scriptKeys[key] {
				continue
			}
		}
		var err error
		switch key {
		case "State":
			if val == "" {
				err = errors.New("empty State")
			}
			inst.State = val
		case "Wantstate":
			inst.WantState = val
		case "Interface", "Listening device":
			inst.Interface = val
		case "Master router":
			inst.MasterRouter = val
		case "Virtual Router ID":
			inst.VRID, err = strconv.Atoi(val)
		case "Priority":
			inst.Priority, err = strconv.Atoi(val)
		case "Effective priority":
			inst.EffectivePriority, err = strconv.Atoi(val)
		case "Last transition":
			ts, _, _ := strings.Cut(val, " ")
			inst.LastTransition, err = strconv.ParseFloat(ts, 64)
			if err == nil && (inst.LastTransition < 0 || inst.LastTransition != inst.LastTransition || inst.LastTransition > 1e11) {
				err = errors.New("out of range")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("keepalived data: line %d: field %q: bad value %q: %v", lineNo, key, parseutil.ClipASCII(val, 80), err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keepalived data: line %d: %w", lineNo+1, err)
	}
	for _, in := range d.Instances {
		if in.State == "" {
			return nil, fmt.Errorf("keepalived data: VRRP instance %s has no State line", in.Name)
		}
	}
	return d, nil
}

var scriptKeys = map[string]bool{
	"Command": true, "Interval": true, "Timeout": true, "Weight": true, "Rise": true,
	"Fall": true, "Full": true, "Insecure": true, "Status": true, "Result": true,
	"Init state": true, "Script uid:gid": true, "State": true,
}

// ParseStats parses the --signum=STATS dump:
//
//	VRRP Instance: VI_1
//	  Advertisements:
//	    Received: 1
//	    Sent: 17
//	  Became master: 1
//	  Released master: 1
//	  ...
func ParseStats(r io.Reader) ([]Stats, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var out []Stats
	var cur *Stats
	parent := ""
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		text := strings.TrimLeft(line, " \t")
		if text == "" {
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("keepalived stats: line %d: expected \"key: value\", got %q", lineNo, parseutil.ClipASCII(text, 80))
		}
		val = strings.TrimSpace(val)
		if key == "VRRP Instance" {
			out = append(out, Stats{Name: val})
			cur = &out[len(out)-1]
			parent = ""
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("keepalived stats: line %d: %q before any VRRP Instance", lineNo, parseutil.ClipASCII(text, 80))
		}
		if val == "" {
			parent = key
			continue
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("keepalived stats: line %d: field %q: bad counter %q", lineNo, key, parseutil.ClipASCII(val, 80))
		}
		indent := len(line) - len(text)
		if indent <= 2 {
			parent = ""
		}
		switch {
		case parent == "Advertisements" && key == "Received":
			cur.AdvertRcvd = n
		case parent == "Advertisements" && key == "Sent":
			cur.AdvertSent = n
		case key == "Became master":
			cur.BecameMaster = n
		case key == "Released master":
			cur.ReleasedMaster = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keepalived stats: line %d: %w", lineNo+1, err)
	}
	return out, nil
}

// jsonStates are keepalived's numeric VRRP states (vrrp.h).
var jsonStates = map[int]string{0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "DELETED", 98: "STOP"}

// ParseJSON parses the --signum=JSON dump: an array of {"data": {...},
// "stats": {...}} objects, one per VRRP instance.
func ParseJSON(b []byte) (*Data, error) {
	var in []struct {
		Data *struct {
			Iname          string   `json:"iname"`
			State          *int     `json:"state"`
			Wantstate      *int     `json:"wantstate"`
			Vrid           int      `json:"vrid"`
			IfpIfname      string   `json:"ifp_ifname"`
			BasePriority   int      `json:"base_priority"`
			EffPriority    int      `json:"effective_priority"`
			MasterPriority int      `json:"master_priority"`
			LastTransition float64  `json:"last_transition"`
			VIPs           []string `json:"vips"`
			EVIPs          []string `json:"evips"`
		} `json:"data"`
		Stats struct {
			AdvertRcvd    uint64 `json:"advert_rcvd"`
			AdvertSent    uint64 `json:"advert_sent"`
			BecomeMaster  uint64 `json:"become_master"`
			ReleaseMaster uint64 `json:"release_master"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("keepalived JSON: line %d: %w", parseutil.LineOf(b, se.Offset), err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("keepalived JSON: line %d: field %q: %w", parseutil.LineOf(b, te.Offset), te.Field, err)
		}
		return nil, fmt.Errorf("keepalived JSON: %w", err)
	}
	d := &Data{}
	for i, e := range in {
		if e.Data == nil || e.Data.Iname == "" || e.Data.State == nil {
			return nil, fmt.Errorf("keepalived JSON: element #%d: field data.iname or data.state missing", i+1)
		}
		inst := Instance{
			Name: e.Data.Iname, State: stateName(*e.Data.State), VRID: e.Data.Vrid,
			Interface: e.Data.IfpIfname, Priority: e.Data.BasePriority,
			EffectivePriority: e.Data.EffPriority, LastTransition: e.Data.LastTransition,
			MasterPriority: e.Data.MasterPriority,
		}
		if e.Data.Wantstate != nil {
			inst.WantState = stateName(*e.Data.Wantstate)
		}
		for _, v := range e.Data.VIPs {
			if f := strings.Fields(v); len(f) > 0 {
				inst.VIPs = append(inst.VIPs, f[0])
			}
		}
		for _, v := range e.Data.EVIPs {
			if f := strings.Fields(v); len(f) > 0 {
				inst.ExcludedVIPs = append(inst.ExcludedVIPs, f[0])
			}
		}
		d.Instances = append(d.Instances, inst)
		d.Stats = append(d.Stats, Stats{Name: inst.Name, AdvertRcvd: e.Stats.AdvertRcvd,
			AdvertSent: e.Stats.AdvertSent, BecameMaster: e.Stats.BecomeMaster, ReleasedMaster: e.Stats.ReleaseMaster})
	}
	return d, nil
}

func stateName(n int) string {
	if s, ok := jsonStates[n]; ok {
		return s
	}
	return fmt.Sprintf("UNKNOWN(%d)", n)
}

// Role maps a VRRP state: MASTER -> active, BACKUP -> standby, FAULT ->
// offline (the instance cannot serve: interface down or a tracked script
// failed), INIT, STOP, DELETED and anything else -> unknown.
func Role(state string) facts.Role {
	switch strings.ToUpper(state) {
	case "MASTER":
		return facts.RoleActive
	case "BACKUP":
		return facts.RoleStandby
	case "FAULT":
		return facts.RoleOffline
	}
	return facts.RoleUnknown
}

// Select returns the instance called name, or the only instance when name
// is empty.
func Select(instances []Instance, name string) (*Instance, error) {
	if name == "" {
		if len(instances) != 1 {
			return nil, fmt.Errorf("keepalived: %d VRRP instances: name the one that carries the mail VIP", len(instances))
		}
		return &instances[0], nil
	}
	for i := range instances {
		if instances[i].Name == name {
			return &instances[i], nil
		}
	}
	return nil, fmt.Errorf("keepalived: VRRP instance %q not found", name)
}

// HearsMaster reports whether a BACKUP instance states that it hears a
// master's adverts: a "Master router" (DATA dump) or a non-zero master
// priority (JSON dump). Other states say nothing about the peer.
func HearsMaster(in *Instance) bool {
	return strings.EqualFold(in.State, "BACKUP") && (in.MasterRouter != "" || in.MasterPriority > 0)
}

// NodeFacts maps the selected instance onto the local node's facts: Role
// from its state (see Role), LastRoleChange from its last transition, and
// a RoleCause naming a non-MASTER/BACKUP state and failing vrrp_scripts.
// keepalived tells nothing about peers or sync, so those stay unreported.
func NodeFacts(d *Data, instance string) (*facts.Node, error) {
	if d == nil {
		return nil, errors.New("keepalived: no data")
	}
	in, err := Select(d.Instances, instance)
	if err != nil {
		return nil, err
	}
	n := &facts.Node{Role: Role(in.State), LastRoleChange: in.LastTransition}
	var causes []string
	if n.Role != facts.RoleActive && n.Role != facts.RoleStandby {
		causes = append(causes, fmt.Sprintf("VRRP instance %s is %s", in.Name, in.State))
	}
	if in.WantState != "" && in.WantState != in.State {
		causes = append(causes, fmt.Sprintf("VRRP instance %s wants %s", in.Name, in.WantState))
	}
	for _, s := range d.Scripts {
		if s.Status != "" && s.Status != "GOOD" {
			causes = append(causes, fmt.Sprintf("vrrp_script %s is %s", s.Name, s.Status))
		}
	}
	n.RoleCause = strings.Join(causes, "; ")
	return n, nil
}
