package azure

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// TestIdentityCredentialFollowsEnvironment: a pod that AKS's workload identity webhook
// mutated (its projected token file is named) gets workload identity; any other pod its
// node's managed identity. Neither is built from developer tools. Building a credential
// makes no request, so nothing here reaches a metadata address.
func TestIdentityCredentialFollowsEnvironment(t *testing.T) {
	for _, env := range []string{"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	cred, err := identityCredential(azcore.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cred.(*azidentity.ManagedIdentityCredential); !ok {
		t.Fatalf("without workload identity: %T; want a managed identity credential", cred)
	}

	token := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(token, []byte("projected-service-account-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", token)
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
	t.Setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002")
	cred, err = identityCredential(azcore.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cred.(*azidentity.WorkloadIdentityCredential); !ok {
		t.Fatalf("with the webhook's environment: %T; want a workload identity credential", cred)
	}

	// The webhook's environment without its client id is a broken mutation: say so
	// instead of falling back to another identity.
	os.Unsetenv("AZURE_CLIENT_ID")
	if _, err := identityCredential(azcore.ClientOptions{}); err == nil {
		t.Fatal("workload identity without AZURE_CLIENT_ID was accepted")
	}
}
