package storage_test

import (
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

const sasToken = "sv=2025-01-05&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=c2FzLXNpZ25hdHVyZS12YWx1ZQ%3D%3D"

// TestAzureChainPerSecretShape: which way azure:// authenticates follows from the keys
// the Secret holds, and the ambiguous or malformed shapes are refused without quoting
// the value.
func TestAzureChainPerSecretShape(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string][]byte
		want storage.AzureAuth
		err  string
	}{
		{"account and key: shared key", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azurestoragekey": []byte(azureKey)}, storage.AzureSharedKey, ""},
		{"account and SAS: SAS", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azuresastoken": []byte(sasToken)}, storage.AzureSAS, ""},
		{"SAS with its leading ?", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azuresastoken": []byte("?" + sasToken)}, storage.AzureSAS, ""},
		{"account alone: workload or managed identity", map[string][]byte{"azurestorageaccount": []byte("backups01")}, storage.AzureIdentity, ""},
		{"key and SAS: ambiguous", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azurestoragekey": []byte(azureKey), "azuresastoken": []byte(sasToken)}, "", "keep one"},
		{"no account", map[string][]byte{"azurestoragekey": []byte(azureKey)}, "", "needs azurestorageaccount"},
		{"SAS without a signature", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azuresastoken": []byte("sv=2025-01-05&se=secret-looking-value")}, "", "not a shared access signature"},
		{"key not base64", map[string][]byte{"azurestorageaccount": []byte("backups01"), "azurestoragekey": []byte("not*base64")}, "", "not valid base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := storage.NewCredentials(tc.data).Azure()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Azure() error = %v; want one containing %q", err, tc.err)
				}
				for _, v := range tc.data {
					if len(v) > 12 && strings.Contains(err.Error(), string(v)) {
						t.Fatalf("the error quotes a Secret value")
					}
				}
				return
			}
			if err != nil || a.Auth != tc.want || a.Account != "backups01" {
				t.Fatalf("Azure() = %v, %v; want auth %s", a, err, tc.want)
			}
			if tc.want == storage.AzureSAS && (strings.HasPrefix(a.SAS, "?") || a.SAS != sasToken) {
				t.Fatalf("SAS not normalized")
			}
			if s := a.String(); strings.Contains(s, "c2FzLXNpZ25hdHVyZS12YWx1ZQ") || strings.Contains(s, azureKey) {
				t.Fatalf("Azure.String reveals a secret: %s", s)
			}
		})
	}
}

// TestGCPChainPerSecretShape: a key file wins; without it the public endpoint and any
// https override use Application Default Credentials; only an emulator on plain HTTP is
// anonymous.
func TestGCPChainPerSecretShape(t *testing.T) {
	sa := map[string][]byte{"gcp": []byte(`{"type":"service_account","project_id":"proj"}`)}
	for _, tc := range []struct {
		name     string
		data     map[string][]byte
		endpoint string
		want     storage.GCP
	}{
		{"key file", sa, "", storage.GCP{JSON: sa["gcp"], ProjectID: "proj"}},
		{"key file with an emulator", sa, "http://127.0.0.1:4443/storage/v1/", storage.GCP{JSON: sa["gcp"], ProjectID: "proj"}},
		{"no key: ADC", nil, "", storage.GCP{ADC: true}},
		{"no key, https override: ADC", nil, "https://storage.example.test/storage/v1/", storage.GCP{ADC: true}},
		{"no key, http emulator: anonymous", nil, "http://127.0.0.1:4443/storage/v1/", storage.GCP{Anonymous: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := storage.NewCredentials(tc.data).GCP(tc.endpoint)
			if err != nil || g.ADC != tc.want.ADC || g.Anonymous != tc.want.Anonymous || g.ProjectID != tc.want.ProjectID || string(g.JSON) != string(tc.want.JSON) {
				t.Fatalf("GCP(%q) = %v, %v; want %v", tc.endpoint, g, err, tc.want)
			}
		})
	}
	if _, err := storage.NewCredentials(map[string][]byte{"gcp": []byte(`{"type":"authorized_user"}`)}).GCP(""); err == nil {
		t.Fatal("a user credential file was accepted as a service account")
	}
}
