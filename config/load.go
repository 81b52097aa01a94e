package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a configuration error at a place in a file.
type Error struct {
	File  string
	Line  int
	Field string // path such as clusters[0].nodes[1].address
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// LoadFile reads, checks and validates a configuration file.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Load(data, path)
}

// Load parses a configuration; file names the source in error messages.
func Load(data []byte, file string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty configuration"}
		}
		return nil, yamlError(file, err, nil)
	}
	pos := positions{}
	if errs := checkKnown(file, doc.Content[0], reflect.TypeOf(Config{}), "", pos); len(errs) > 0 {
		return nil, errs
	}
	cfg := &Config{}
	if err := doc.Decode(cfg); err != nil {
		return nil, yamlError(file, err, pos)
	}
	cfg.File = file
	cfg.applyDefaults()
	if errs := cfg.validate(&validator{file: file, pos: pos}); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: …") into an Error; each
// type error ("cannot unmarshal !!str into int") becomes one Error naming
// the field written on its line.
func yamlError(file string, err error, pos positions) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		es := make(Errors, 0, len(te.Errors))
		for _, m := range te.Errors {
			es = append(es, lineError(file, m, pos))
		}
		return es
	}
	return lineError(file, strings.TrimPrefix(err.Error(), "yaml: "), pos)
}

func lineError(file, msg string, pos positions) *Error {
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &Error{File: file, Line: line, Field: pos.fieldAt(line), Msg: msg}
}

// positions maps a field path to the line it is written on.
type positions map[string]int

// fieldAt returns the deepest field written on line (or, when none is, on
// the nearest line above it); when several fields share that line, as in a
// flow mapping, their common parent.
func (p positions) fieldAt(line int) string {
	if line <= 0 {
		return ""
	}
	best, depth := 0, -1
	var cands []string
	for path, l := range p {
		if l > line || l < best || path == "" {
			continue
		}
		d := strings.Count(path, ".") + strings.Count(path, "[")
		if l > best || d > depth {
			best, depth, cands = l, d, nil
		}
		if d == depth {
			cands = append(cands, path)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	field := cands[0]
	for _, c := range cands[1:] {
		for c != field && !strings.HasPrefix(c, field+".") && !strings.HasPrefix(c, field+"[") {
			i := strings.LastIndexAny(field, ".[")
			if i < 0 {
				return ""
			}
			field = field[:i]
		}
	}
	return field
}

// line returns the line of path, or of its nearest written parent.
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKnown walks the YAML tree against the Go type, recording where each
// field is written and rejecting keys the type does not have. yaml.v3's own
// KnownFields does not reach into custom unmarshalers, so this one check
// covers the whole document.
func checkKnown(file string, n *yaml.Node, t reflect.Type, path string, pos positions) Errors {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := pos[path]; !ok {
		pos[path] = n.Line // a field's line is its key's; elements have none
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(unmarshalerType) {
				return nil // shorthand form, decoded by the type itself
			}
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			if t.NumField() == 0 || n.Kind == yaml.ScalarNode && !hasYAMLFields(t) {
				return nil // e.g. model.Duration-like structs decoded from scalars
			}
			return Errors{{File: file, Line: n.Line, Field: path, Msg: "expected a mapping"}}
		}
		fields := yamlFields(t)
		var errs Errors
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Tag == "!!merge" { // "<<: *anchor" or "<<: [*a, *b]" merges mappings in
				merged := []*yaml.Node{val}
				if val.Kind == yaml.SequenceNode {
					merged = val.Content
				}
				for _, m := range merged {
					errs = append(errs, checkKnown(file, m, t, path, pos)...)
				}
				continue
			}
			ft, ok := fields[key.Value]
			child := joinPath(path, key.Value)
			if !ok {
				errs = append(errs, &Error{File: file, Line: key.Line, Field: child,
					Msg: fmt.Sprintf("unknown field %q (allowed: %s)", key.Value, allowed(fields))})
				continue
			}
			pos[child] = key.Line
			errs = append(errs, checkKnown(file, val, ft, child, pos)...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil // type errors are reported by the decoder with a line
		}
		var errs Errors
		for i, c := range n.Content {
			errs = append(errs, checkKnown(file, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), pos)...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var errs Errors
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKnown(file, n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), pos)...)
		}
		return errs
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func hasYAMLFields(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}

// yamlFields lists the YAML keys of a struct type, following inline fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func allowed(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// UnmarshalYAML accepts the shorthand "smtp" as well as a full mapping.
func (s *Service) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value == "" {
			return fmt.Errorf("line %d: empty service name", n.Line)
		}
		*s = Service{Name: n.Value, shorthand: true}
		return nil
	}
	type plain Service
	return n.Decode((*plain)(s))
}
