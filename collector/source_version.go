package collector

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// versionSource reports the node's software version from a command, e.g.
// `postconf -h mail_version` or an appliance's version tool.
type versionSource struct {
	env  Env
	node string
	cmd  config.Command
	re   *regexp.Regexp
}

func newVersionSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("version")
	if err != nil {
		return nil, err
	}
	s := &versionSource{env: env, node: node, cmd: src.Version.Command}
	if src.Version.Regexp != "" {
		s.re = regexp.MustCompile(src.Version.Regexp) // validated with the configuration
	}
	return s, nil
}

func (s *versionSource) Collect(ctx context.Context) (facts.Set, error) {
	out, err := s.env.Runner.Run(ctx, s.cmd)
	if err != nil {
		return nil, err
	}
	v, err := pickVersion(string(out), s.re)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.cmd.Argv[0], err)
	}
	set := facts.Set{}
	set.Node(s.node).Version = v
	return set, nil
}

// pickVersion takes the first regexp group, or the whole trimmed output
// when it is a single short line.
func pickVersion(out string, re *regexp.Regexp) (string, error) {
	if re != nil {
		m := re.FindStringSubmatch(out)
		if m == nil || m[1] == "" {
			return "", fmt.Errorf("regexp %q does not match the output", re.String())
		}
		return m[1], nil
	}
	v := strings.TrimSpace(out)
	if v == "" || strings.ContainsAny(v, "\n") || len(v) > 128 {
		return "", fmt.Errorf("output is not one short version line (set version.regexp)")
	}
	return v, nil
}
