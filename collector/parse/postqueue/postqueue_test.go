package postqueue

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
)

func render(qs map[string]facts.Queue) string {
	var names []string
	for n := range qs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		q := qs[n]
		age := "-"
		if q.OldestAgeSeconds != nil {
			age = fmt.Sprintf("%.0f", *q.OldestAgeSeconds)
		}
		fmt.Fprintf(&b, "%s=%.0f/%.0f/%s ", n, q.Messages, q.Bytes, age)
	}
	return strings.TrimSpace(b.String())
}

func TestRealOutputs(t *testing.T) {
	files := realoutputs.Glob(t, "postfix/*.jsonl")
	now := time.Unix(1800000000, 0)
	want := map[string]string{
		"zimbra-readonly-tui-postqueue_j_deferred.jsonl":                    "active=0/0/- deferred=2/1694/14321457 hold=0/0/- incoming=0/0/- maildrop=0/0/-",
		"postqf-tests-qdata-active-long-queue-ids.jsonl":                    "active=5/1647179/157327050 deferred=0/0/- hold=0/0/- incoming=0/0/- maildrop=0/0/-",
		"snclient-check_mailq_test-active-deferred-hold-orig_address.jsonl": "active=1/306/14681894 deferred=1/2552/14681894 hold=1/414/14741693 incoming=0/0/- maildrop=0/0/-",
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := Queues(bytes.NewReader(b), now)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		total := 0.0
		for _, q := range qs {
			total += q.Messages
		}
		if lines := bytes.Count(bytes.TrimSpace(b), []byte("\n")) + 1; int(total) != lines {
			t.Errorf("%s: %v messages for %d lines", f, total, lines)
		}
		if w, ok := want[filepath.Base(f)]; ok && render(qs) != w {
			t.Errorf("%s:\n got %s\nwant %s", f, render(qs), w)
		}
		t.Logf("%s: %s", filepath.Base(f), render(qs))
	}
}

func TestOwnTranscription(t *testing.T) {
	b, err := os.ReadFile("testdata/postqueue-j-mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// drop the "## " header of the transcription
	for bytes.HasPrefix(b, []byte("## ")) {
		b = b[bytes.IndexByte(b, '\n')+1:]
	}
	qs, err := Queues(bytes.NewReader(b), time.Unix(1700003600, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := "active=1/1200/60 deferred=2/12000/3600 hold=1/500/600 incoming=0/0/- maildrop=1/300/0"
	if got := render(qs); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	var ms []Message
	_ = Parse(bytes.NewReader(b), func(m Message) error { ms = append(ms, m); return nil })
	if len(ms) != 5 || ms[1].Recipients != 2 || ms[1].Delayed != 1 {
		t.Errorf("%+v", ms)
	}
	if s := fmt.Sprintf("%+v", ms); strings.Contains(s, "@") {
		t.Errorf("addresses leaked: %s", s)
	}
}

func TestEmpty(t *testing.T) {
	qs, err := Queues(strings.NewReader(""), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := render(qs); got != "active=0/0/- deferred=0/0/- hold=0/0/- incoming=0/0/- maildrop=0/0/-" {
		t.Errorf("got %s", got)
	}
}

func TestMalformed(t *testing.T) {
	ok := `{"queue_name": "active", "queue_id": "A", "arrival_time": 1, "message_size": 2, "recipients": []}`
	for _, c := range []struct{ in, want string }{
		{ok + "\n{not json}\n", "line 2"},
		{"\n" + `{"queue_id": "A", "arrival_time": 1, "message_size": 2}`, "line 2: field \"queue_name\" missing"},
		{`{"queue_name": "Active Queue", "arrival_time": 1, "message_size": 2}`, "line 1: field \"queue_name\""},
		{`{"queue_name": "active", "message_size": 2}`, "line 1: field \"arrival_time\" missing"},
		{`{"queue_name": "active", "arrival_time": 1}`, "line 1: field \"message_size\" missing"},
		{`{"queue_name": "active", "arrival_time": "x", "message_size": 2}`, "line 1: field \"arrival_time\""},
		{`{"queue_name": "active", "arrival_time": 1, "message_size": -2}`, "negative size"},
		{`[1,2]`, "line 1"},
	} {
		_, err := Queues(strings.NewReader(c.in), time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.in, err, c.want)
		}
	}
}

func FuzzParsePostqueue(f *testing.F) {
	files := realoutputs.SeedGlob(f, "postfix/*.jsonl")
	files = append(files, "testdata/postqueue-j-mixed.jsonl")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		qs, err := Queues(bytes.NewReader(b), time.Unix(1800000000, 0))
		if err != nil {
			return
		}
		for name, q := range qs {
			if q.Messages < 0 || q.Bytes < 0 || (q.OldestAgeSeconds != nil && *q.OldestAgeSeconds < 0) {
				t.Fatalf("queue %q: %+v", name, q)
			}
			if (q.Messages == 0) != (q.OldestAgeSeconds == nil) {
				t.Fatalf("queue %q: age must be set iff non-empty: %+v", name, q)
			}
			if !validQueue(name) {
				t.Fatalf("bad queue name %q", name)
			}
		}
	})
}
