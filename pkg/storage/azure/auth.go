package azure

import (
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// newClient builds the service client for the Secret's way of authenticating.
func newClient(a storage.Azure, serviceURL string, opts *azblob.ClientOptions) (*azblob.Client, error) {
	switch a.Auth {
	case storage.AzureSharedKey:
		cred, err := azblob.NewSharedKeyCredential(a.Account, a.Key)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid account key", storage.KeyAzureStorageKey)
		}
		c, err := azblob.NewClientWithSharedKeyCredential(serviceURL, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azure client: %w", err)
		}
		return c, nil
	case storage.AzureSAS:
		// The signature rides on every request's query string; the SDK keeps it when it
		// derives container and blob URLs.
		c, err := azblob.NewClientWithNoCredential(strings.TrimSuffix(serviceURL, "/")+"/?"+a.SAS, opts)
		if err != nil {
			// Not %w: the SDK's error may quote the URL, and with it the signature.
			return nil, fmt.Errorf("azure client: the service URL with %s does not parse", storage.KeyAzureSASToken)
		}
		return c, nil
	default:
		cred, err := identityCredential(opts.ClientOptions)
		if err != nil {
			return nil, err
		}
		c, err := azblob.NewClient(serviceURL, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azure client: %w", err)
		}
		return c, nil
	}
}

// identityCredential is the pod's Microsoft Entra identity: workload identity when the
// AKS webhook has projected its token (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID,
// AZURE_TENANT_ID, AZURE_AUTHORITY_HOST), else the managed identity (AZURE_CLIENT_ID
// selects a user-assigned one). Unlike DefaultAzureCredential it never falls through to
// developer tools, so what a pod uses is decided by its environment alone.
func identityCredential(copts azcore.ClientOptions) (azcore.TokenCredential, error) {
	// Token requests go over the same transport, with its timeouts.
	if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: copts})
		if err != nil {
			return nil, fmt.Errorf("azure workload identity: %w", err)
		}
		return cred, nil
	}
	mopts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
	if id := os.Getenv("AZURE_CLIENT_ID"); id != "" {
		mopts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(mopts)
	if err != nil {
		return nil, fmt.Errorf("azure managed identity: %w", err)
	}
	return cred, nil
}
