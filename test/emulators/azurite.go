package emulators

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// Azurite's well-known development account.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzureServer is a running Azurite blob service.
type AzureServer struct {
	// Endpoint is the service URL template for storage.Config.AzureEndpoint:
	// http://<host>:<port>/{account}.
	Endpoint string
	// Account and Key are the development account's name and key.
	Account, Key string
}

// Azurite starts Azurite's blob service in memory on a free port.
func Azurite(t testing.TB) *AzureServer {
	t.Helper()
	bin := binary(t, "azurite")
	host, port := start(t, azuriteServer(bin))
	a := &AzureServer{Endpoint: fmt.Sprintf("http://%s/{account}", hostPort(host, port)), Account: azuriteAccount, Key: azuriteKey}
	return a
}

// azuriteServer runs Azurite's blob service in memory. Azurite names itself in the
// Server header of every answer. Telemetry is off: no traffic leaves the machine.
func azuriteServer(bin string) server {
	return server{name: "azurite", bin: bin,
		ready: func(r *http.Response) bool { return strings.HasPrefix(r.Header.Get("Server"), "Azurite-Blob/") },
		on: func(host string, port int) (string, []string) {
			return "http://" + hostPort(host, port) + "/", []string{"--blobHost", host, "--blobPort", fmt.Sprint(port),
				"--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent"}
		}}
}

// ServiceURL is the blob service URL of the development account.
func (a *AzureServer) ServiceURL() string {
	return strings.ReplaceAll(a.Endpoint, "{account}", a.Account)
}

// Secret returns Secret data (the guide's keys) for this server.
func (a *AzureServer) Secret() map[string][]byte {
	return map[string][]byte{"azurestorageaccount": []byte(a.Account), "azurestoragekey": []byte(a.Key)}
}

// Client returns a plain SDK client for the server.
func (a *AzureServer) Client(t testing.TB) *azblob.Client {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(a.Account, a.Key)
	if err != nil {
		t.Fatalf("emulators: azurite credential: %v", err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(a.ServiceURL(), cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatalf("emulators: azurite client: %v", err)
	}
	return c
}

// CreateContainer creates a container on the server.
func (a *AzureServer) CreateContainer(t testing.TB, name string) {
	t.Helper()
	c, cancel := ctx(t)
	defer cancel()
	if _, err := a.Client(t).CreateContainer(c, name, nil); err != nil {
		t.Fatalf("emulators: create Azure container %s: %v", name, err)
	}
}
