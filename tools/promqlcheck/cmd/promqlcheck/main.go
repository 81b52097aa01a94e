// Command promqlcheck parses Prometheus rule files with the Prometheus 3.x
// rule and PromQL parsers.
//
//	promqlcheck [-metrics] FILE...
//	promqlcheck -expr 'rate(foo[5m])'
//
// It exits 1 if any file or expression has an error. With -metrics it
// prints the metric names used, one a line.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/mailcluster/mailcluster_exporter/tools/promqlcheck"
)

func main() {
	metrics := flag.Bool("metrics", false, "print the metric names used by the rules")
	expr := flag.String("expr", "", "check one PromQL expression instead of files")
	flag.Parse()

	if *expr != "" {
		names, err := promqlcheck.ParseExpr(*expr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, n := range names {
			fmt.Println(n)
		}
		return
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: promqlcheck [-metrics] FILE... | promqlcheck -expr EXPR")
		os.Exit(2)
	}
	failed := false
	used := map[string]bool{}
	for _, f := range flag.Args() {
		rules, errs := promqlcheck.CheckRuleFile(f)
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
		for _, r := range rules {
			for _, m := range r.Metrics {
				used[m] = true
			}
		}
		if len(errs) == 0 {
			fmt.Fprintf(os.Stderr, "%s: %d rules OK\n", f, len(rules))
		}
	}
	if *metrics {
		names := make([]string, 0, len(used))
		for n := range used {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Println(n)
		}
	}
	if failed {
		os.Exit(1)
	}
}
