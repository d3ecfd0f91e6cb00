package emulators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// GCSServer is a running fake-gcs-server with the memory backend.
type GCSServer struct {
	// URL is the server's base URL, http://<host>:<port>.
	URL string
	// Endpoint is the JSON API endpoint for storage.Config.GCSEndpoint.
	Endpoint string
}

// GCS starts fake-gcs-server over HTTP on a free port.
func GCS(t testing.TB) *GCSServer {
	t.Helper()
	bin := binary(t, "fake-gcs-server")
	host, port := start(t, server{name: "fake-gcs-server", bin: bin, ready: status200,
		on: func(host string, port int) (string, []string) {
			url := "http://" + hostPort(host, port)
			return url + "/storage/v1/b", []string{"-scheme", "http", "-host", host, "-port", fmt.Sprint(port), "-backend", "memory",
				"-external-url", url, "-public-host", hostPort(host, port), "-log-level", "error"}
		}})
	g := &GCSServer{URL: "http://" + hostPort(host, port)}
	g.Endpoint = g.URL + "/storage/v1/"
	return g
}

// CreateBucket creates a bucket through the JSON API.
func (g *GCSServer) CreateBucket(t testing.TB, name string) {
	t.Helper()
	c, cancel := ctx(t)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(c, http.MethodPost, g.Endpoint+"b?project=test", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatalf("emulators: create GCS bucket %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("emulators: create GCS bucket %s: %s: %s", name, resp.Status, b)
	}
}
