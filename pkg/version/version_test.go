package version

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGet(t *testing.T) {
	vcs := func(rev, modified string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
			if rev != "" {
				bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
			}
			return bi, true
		}
	}
	module := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name                string
		version, commit     string
		read                func() (*debug.BuildInfo, bool)
		wantVersion, wantCm string
	}{
		{"ldflags win", "v0.2.0", "abc", vcs("def", "true"), "v0.2.0", "abc"},
		{"vcs fallback", "", "", vcs("def", "false"), "dev", "def"},
		{"dirty tree", "", "", vcs("def", "true"), "dev", "def-dirty"},
		{"go install of a module version", "", "", module, "v0.3.1", "unknown"},
		{"nothing recorded", "", "", none, "dev", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.version, tc.commit, tc.read)
			if got.Version != tc.wantVersion || got.Commit != tc.wantCm || got.GoVersion != runtime.Version() {
				t.Errorf("got %+v, want version %s commit %s go %s", got, tc.wantVersion, tc.wantCm, runtime.Version())
			}
		})
	}
}

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	Print(&b, "cassandra-backup-agent")
	line := b.String()
	for _, want := range []string{"cassandra-backup-agent ", Get().Version, "commit " + Get().Commit, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector(Info{Version: "v0.2.0", Commit: "abc", GoVersion: "go1.26.8"}))
	want := `# HELP cassandra_backup_build_info Build information of this binary: version, commit and Go version; always 1.
# TYPE cassandra_backup_build_info gauge
cassandra_backup_build_info{commit="abc",go_version="go1.26.8",version="v0.2.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricName); err != nil {
		t.Error(err)
	}
}

func TestCheckAgent(t *testing.T) {
	for _, tc := range []struct {
		operator, agent string
		ok, newer       bool
	}{
		{"v0.2.0", "v0.2.0", true, false},
		{"v0.2.3", "v0.2.0", true, false},
		{"v0.2.0", "v0.2.5", true, false}, // a newer patch of the same minor
		{"v0.2.0", "v0.1.7", true, false}, // one minor older
		{"v0.2.0", OldestAgent, true, false},
		{"v0.1.0-dev.4+1ff9de4", OldestAgent, true, false},
		{"v0.3.0", "v0.1.0", false, false}, // two minors older
		{"v0.3.0", OldestAgent, false, false},
		{"v0.2.0", "v0.3.0", false, true},
		{"v1.0.0", "v0.9.0", false, false},
		{"v1.0.0", "v2.0.0", false, true},
		{"dev", "v0.1.0", true, false},
		{"v0.3.0", "dev", true, false},
	} {
		err := CheckAgent(tc.operator, tc.agent)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAgent(%s, %s) = %v, want ok=%v", tc.operator, tc.agent, err, tc.ok)
			continue
		}
		if err != nil {
			se, isSkew := err.(*SkewError)
			if !isSkew || se.Newer != tc.newer {
				t.Errorf("CheckAgent(%s, %s) = %#v, want a SkewError with Newer=%v", tc.operator, tc.agent, err, tc.newer)
			}
		}
	}
}

func TestAgentVersion(t *testing.T) {
	if got := AgentVersion(http.Header{}); got != OldestAgent {
		t.Errorf("no header: %s, want %s", got, OldestAgent)
	}
	h := http.Header{}
	h.Set(AgentHeader, "v0.2.0")
	if got := AgentVersion(h); got != "v0.2.0" {
		t.Errorf("got %s", got)
	}
}

func TestAgentHandler(t *testing.T) {
	h := AgentHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/denied":
			w.WriteHeader(http.StatusUnauthorized)
		case "/created":
			w.WriteHeader(http.StatusCreated)
		default:
			w.Write([]byte("ok"))
		}
	}))
	for path, want := range map[string]string{"/": Get().Version, "/created": Get().Version, "/denied": ""} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if got := rec.Header().Get(AgentHeader); got != want {
			t.Errorf("%s: header %q, want %q", path, got, want)
		}
	}
}

func TestSupportedAgents(t *testing.T) {
	for op, want := range map[string]string{
		"v0.3.1": "v0.2.x to v0.3.x",
		"v1.0.0": "v1.0.x",
		"v0.1.0": "v0.0.x to v0.1.x",
		"dev":    "any",
	} {
		if got := SupportedAgents(op); got != want {
			t.Errorf("SupportedAgents(%s) = %q, want %q", op, got, want)
		}
	}
}
