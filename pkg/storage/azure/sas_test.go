package azure_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestConformanceSAS runs the suite with a Secret that holds an account SAS instead of
// the account key, as a platform that bans account keys hands out; a SAS signed with
// another key is refused (the rotation test).
func TestConformanceSAS(t *testing.T) {
	srv := emulators.Azurite(t)
	good := map[string][]byte{"azurestorageaccount": []byte(srv.Account), "azuresastoken": []byte("?" + accountSAS(t, srv.Account, srv.Key))}
	// A well-formed SAS signed with a key that is not the account's.
	bad := map[string][]byte{"azurestorageaccount": []byte(srv.Account),
		"azuresastoken": []byte(accountSAS(t, srv.Account, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs="))}
	storagetest.Run(t, storagetest.Target{
		Open:           opener(srv),
		Credentials:    good,
		BadCredentials: bad,
	})
}

// accountSAS signs an account SAS for the blob service with every permission the agent
// and the operator use, valid for an hour.
func accountSAS(t *testing.T, account, key string) string {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.AccountPermissions{Read: true, Write: true, Delete: true, List: true, Add: true, Create: true}
	q, err := sas.AccountSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Minute).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   perms.String(),
		ResourceTypes: (&sas.AccountResourceTypes{Service: true, Container: true, Object: true}).String(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	enc := q.Encode()
	if !strings.Contains(enc, "sig=") {
		t.Fatalf("signed SAS has no signature")
	}
	return enc
}

// TestSASNeverInErrors checks that a refused SAS does not come back in the error, which
// the operator copies into conditions and events.
func TestSASNeverInErrors(t *testing.T) {
	srv := emulators.Azurite(t)
	token := accountSAS(t, srv.Account, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs=")
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeAzure, Bucket: "refused"}, storage.Config{
		Credentials: storage.StaticCredentials(map[string][]byte{"azurestorageaccount": []byte(srv.Account), "azuresastoken": []byte(token)}),
		Insecure:    true, AzureEndpoint: srv.Endpoint, Retry: storage.Retry{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.BucketExists(t.Context())
	if err == nil {
		t.Fatal("a SAS signed with the wrong key was accepted")
	}
	sig, _ := url.ParseQuery(token)
	if s := sig.Get("sig"); strings.Contains(err.Error(), s) || strings.Contains(err.Error(), url.QueryEscape(s)) {
		t.Fatalf("the error quotes the SAS signature (%d bytes withheld)", len(err.Error()))
	}
}
