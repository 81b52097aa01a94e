// Command dashgen generates the Grafana dashboards of mailcluster_exporter
// into dashboards/ (run from tools/: go run ./dashgen -out ../dashboards),
// and lists the PromQL of the committed dashboards for end-to-end checks
// (go run ./dashgen -queries ../dashboards -var cluster=c1).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/dashq"
	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/gen"
)

type varFlags map[string]string

func (v varFlags) String() string { return fmt.Sprint(map[string]string(v)) }
func (v varFlags) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[k] = val
	return nil
}

func main() {
	out := flag.String("out", "", "directory to write the dashboard JSON files into (e.g. ../dashboards)")
	queries := flag.String("queries", "", "instead of generating, print every PromQL query of the dashboards in this directory as JSON lines")
	runbookBase := flag.String("runbook-base", gen.DefaultRunbookBase, "value of the dashboards' constant variable runbook_base: the URL of docs/runbooks/ (ends with /); point it at an internal copy for an air-gapped NOC")
	vars := varFlags{}
	flag.Var(vars, "var", "with -queries: template variable value name=value (repeatable; defaults: "+fmt.Sprint(dashq.DefaultVars)+")")
	flag.Parse()

	switch {
	case *queries != "":
		if err := printQueries(*queries, vars); err != nil {
			fmt.Fprintln(os.Stderr, "dashgen:", err)
			os.Exit(1)
		}
	case *out != "":
		if err := write(*out, gen.Options{RunbookBase: *runbookBase}); err != nil {
			fmt.Fprintln(os.Stderr, "dashgen:", err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func write(dir string, o gen.Options) error {
	files, err := gen.Files(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.JSON, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func printQueries(dir string, vars map[string]string) error {
	all := map[string]string{}
	for k, v := range dashq.DefaultVars {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	qs, err := dashq.QueriesWith(dir, all)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, q := range qs {
		if err := enc.Encode(q); err != nil {
			return err
		}
	}
	return nil
}
