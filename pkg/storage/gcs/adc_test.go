package gcs_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// metadataServer plays the GKE metadata server that Workload Identity puts behind
// 169.254.169.254: tests point GCE_METADATA_HOST at it, so no request leaves 127.0.0.1.
type metadataServer struct {
	*httptest.Server
	tokens atomic.Int64
	fail   atomic.Bool
}

func newMetadataServer(t *testing.T) *metadataServer {
	m := &metadataServer{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			if m.fail.Load() {
				http.Error(w, "no identity bound to this ServiceAccount", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"wi-token-%d","expires_in":3600,"token_type":"Bearer"}`, m.tokens.Add(1))
		case "/computeMetadata/v1/project/project-id":
			fmt.Fprint(w, "wi-project")
		case "/computeMetadata/v1/universe/universe-domain":
			fmt.Fprint(w, "googleapis.com")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

// authProxy is an HTTPS front for fake-gcs-server (which accepts any credentials) that
// records the Authorization header of every request, so the test sees what the provider
// sends.
type authProxy struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newAuthProxy(t *testing.T, target string) *authProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &authProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.mu.Unlock()
		// fake-gcs-server serves downloads by host: ask it under its own name.
		r.Host = u.Host
		rp.ServeHTTP(w, r)
	}))
	p.StartTLS()
	// fake-gcs-server sends resumable uploads to its own URL: send them back through
	// the proxy.
	rp.ModifyResponse = func(resp *http.Response) error {
		if loc := resp.Header.Get("Location"); loc != "" {
			resp.Header.Set("Location", strings.Replace(loc, target, p.URL, 1))
		}
		return nil
	}
	t.Cleanup(p.Close)
	return p
}

func (p *authProxy) headers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...)
}

// isolateADC points Application Default Credentials at the test's metadata server and
// away from any credentials file of the machine.
func isolateADC(t *testing.T, m *metadataServer) {
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(m.URL, "http://"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
}

// TestWorkloadIdentity runs the suite with a Secret that has no gcp key, against an
// https endpoint: every request carries a token from the metadata server (Workload
// Identity), and buckets are created in the metadata server's project.
func TestWorkloadIdentity(t *testing.T) {
	srv := emulators.GCS(t) // first: hack/tools.sh finds its cache through HOME
	meta := newMetadataServer(t)
	isolateADC(t, meta)
	proxy := newAuthProxy(t, srv.URL)
	storagetest.Run(t, storagetest.Target{
		Open:        opener(proxy.URL+"/storage/v1/", proxy.Client()),
		Credentials: map[string][]byte{},
	})
	seen := proxy.headers()
	if len(seen) == 0 || meta.tokens.Load() == 0 {
		t.Fatalf("%d requests through the proxy, %d tokens from the metadata server", len(seen), meta.tokens.Load())
	}
	for _, h := range seen {
		if !strings.HasPrefix(h, "Bearer wi-token-") {
			t.Fatalf("a request went out with Authorization %q; want the Workload Identity token", h)
		}
	}
}

// TestWorkloadIdentityUnbound: when the pod's ServiceAccount has no identity, requests
// fail with the reason and none goes out unauthenticated.
func TestWorkloadIdentityUnbound(t *testing.T) {
	srv := emulators.GCS(t) // first: hack/tools.sh finds its cache through HOME
	meta := newMetadataServer(t)
	meta.fail.Store(true)
	isolateADC(t, meta)
	proxy := newAuthProxy(t, srv.URL)
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeGCP, Bucket: "unbound"}, storage.Config{
		Credentials: storage.StaticCredentials(nil), GCSEndpoint: proxy.URL + "/storage/v1/", HTTPClient: proxy.Client(),
		Retry: storage.Retry{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.BucketExists(t.Context()); err == nil {
		t.Fatal("BucketExists succeeded without a token")
	}
	if n := len(proxy.headers()); n != 0 {
		t.Fatalf("%d requests reached the endpoint without a token", n)
	}
}
