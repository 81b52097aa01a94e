package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerStage is one FROM … stage of the Dockerfile: its instructions with
// continuation lines joined.
type dockerStage struct {
	from  string
	lines []string // "RUN …", "ARG …" …
}

func readDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, dockerStage{from: line})
			return
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before the first FROM", line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	for _, ln := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(ln), "#") {
			continue
		}
		if strings.HasSuffix(ln, "\\") {
			cur.WriteString(strings.TrimSuffix(ln, "\\") + " ")
			continue
		}
		cur.WriteString(ln)
		flush()
	}
	flush()
	if len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, want build and runtime", len(stages))
	}
	return stages
}

func (s dockerStage) find(prefix string) []string {
	var out []string
	for _, l := range s.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// The image's build command, run here as the Dockerfile runs it (no Docker
// engine needed): the version, revision and branch build args end up in
// build_info, and the runtime stage keeps the window file on a volume that
// its non-root user owns.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	build, runtime := readDockerfile(t)[0], readDockerfile(t)[1]
	for _, arg := range []string{"VERSION", "REVISION", "BRANCH"} {
		if len(build.find("ARG "+arg)) != 1 {
			t.Errorf("build stage: no ARG %s", arg)
		}
	}
	var goBuild string
	for _, l := range build.find("RUN ") {
		if strings.Contains(l, "go build") {
			goBuild = strings.TrimPrefix(l, "RUN ")
		}
	}
	if goBuild == "" {
		t.Fatal("build stage: no RUN … go build")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(goBuild, "/out/", out+"/"))
	cmd.Env = append(os.Environ(), "VERSION=9.8.7", "REVISION=0123abcd", "BRANCH=release-9.8")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", goBuild, err, b)
	}
	v, err := exec.Command(filepath.Join(out, "mailcluster_exporter"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, v)
	}
	if !strings.Contains(string(v), "version 9.8.7 (branch: release-9.8, revision: 0123abcd)") {
		t.Errorf("--version of the image's binary:\n%s\nwant version, branch and revision from the build args", v)
	}

	user := runtime.find("USER ")
	if len(user) != 1 || strings.HasPrefix(user[0], "USER 0") || strings.HasPrefix(user[0], "USER root") {
		t.Fatalf("runtime stage: USER %v, want one non-root user", user)
	}
	uid := strings.TrimPrefix(user[0], "USER ")
	const stateDir = "/var/lib/mailcluster_exporter"
	if vol := runtime.find("VOLUME "); len(vol) != 1 || !strings.Contains(vol[0], `"`+stateDir+`"`) {
		t.Errorf("runtime stage: VOLUME %v, want %s", vol, stateDir)
	}
	owned := false
	for _, l := range runtime.find("COPY ") {
		if strings.Contains(l, "--chown="+uid) && strings.HasSuffix(l, " "+stateDir) {
			owned = true
		}
	}
	if !owned {
		t.Errorf("runtime stage: %s is not created owned by %s (COPY --chown=%s … %s)", stateDir, uid, uid, stateDir)
	}
	// The window file lives on the volume, whether CMD names it or the
	// binary's default is used.
	cmdLine := strings.Join(runtime.find("CMD "), " ")
	wf := regexp.MustCompile(`--windows\.file=([^" ]+)`).FindStringSubmatch(cmdLine)
	if wf != nil && !strings.HasPrefix(wf[1], stateDir+"/") {
		t.Errorf("CMD puts the window file at %s, outside the volume %s", wf[1], stateDir)
	}
	if _, help, _ := runCLI(t, "--help"); !strings.Contains(help, `--windows.file="`+stateDir+`/`) {
		t.Errorf("the default --windows.file is not under %s", stateDir)
	}
}
