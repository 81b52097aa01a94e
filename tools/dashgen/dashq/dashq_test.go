package dashq

import "testing"

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"cluster": "c1", "__rate_interval": "1m"}
	cases := map[string]string{
		`up{cluster="$cluster"}`:                              `up{cluster="c1"}`,
		`up{cluster=~"${cluster}"}`:                           `up{cluster=~"c1"}`,
		`up{cluster=~"${cluster:regex}"}`:                     `up{cluster=~"c1"}`,
		`up{cluster="[[cluster]]"}`:                           `up{cluster="c1"}`,
		`rate(x[$__rate_interval])`:                           `rate(x[1m])`,
		`label_replace(up, "r", "$1 (v)", "service", "(.+)")`: `label_replace(up, "r", "$1 (v)", "service", "(.+)")`,
	}
	for in, want := range cases {
		got, err := Substitute(in, vars)
		if err != nil || got != want {
			t.Errorf("Substitute(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Substitute(`up{node="$node"}`, vars); err == nil {
		t.Error("unknown variable accepted")
	}
}

func TestQueriesCommitted(t *testing.T) {
	qs, err := Queries("../../../dashboards")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, q := range qs {
		kinds[q.Kind]++
		if q.Expr == "" || q.Dashboard == "" || q.Panel == "" {
			t.Errorf("incomplete query %+v", q)
		}
	}
	if kinds["panel"] == 0 || kinds["variable"] == 0 || kinds["annotation"] == 0 {
		t.Errorf("query kinds %v", kinds)
	}
}
