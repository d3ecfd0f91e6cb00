package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func fullSecret() map[string][]byte {
	return map[string][]byte{
		"awsaccesskeyid":      []byte(accessKey),
		"awssecretaccesskey":  []byte(secretKey + "\n"),
		"awsregion":           []byte("eu-central-1"),
		"awsendpoint":         []byte("s3.example.test:9000"),
		"azurestorageaccount": []byte("backups01"),
		"azurestoragekey":     []byte(azureKey),
		"gcp":                 []byte(`{"type":"service_account","project_id":"proj","private_key":"-----BEGIN PRIVATE KEY-----gcp-private-key-value"}`),
		"unrelated":           []byte("ignored-value"),
	}
}

// TestCredentialsNeverPrinted formats credentials and what is derived from them every way
// a log line or error might, and checks no secret value comes out.
func TestCredentialsNeverPrinted(t *testing.T) {
	c := storage.NewCredentials(fullSecret())
	a, err := c.AWS(false)
	if err != nil {
		t.Fatal(err)
	}
	az, err := c.Azure()
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GCP("")
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, v := range []any{c, &c, a, &a, az, g, struct{ C storage.Credentials }{c}, []storage.Credentials{c}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
	}
	js, err := json.Marshal(map[string]any{"creds": c})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js), fmt.Errorf("wrapped: %v", c).Error())
	for _, out := range outs {
		for _, s := range []string{accessKey, secretKey, azureKey, "gcp-private-key-value", "ignored-value"} {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
				t.Fatalf("formatted credentials reveal a secret value (output withheld, %d bytes)", len(out))
			}
		}
	}
	if got := c.String(); got != "storage.Credentials{awsaccesskeyid,awsendpoint,awsregion,awssecretaccesskey,azurestorageaccount,azurestoragekey,gcp: redacted}" {
		t.Fatalf("String() = %s", got)
	}
}

func TestAWSRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     map[string][]byte
		insecure bool
		want     storage.AWS
	}{
		{"no keys: default chain", nil, false, storage.AWS{DefaultChain: true}},
		{"region only sets only the region", map[string][]byte{"awsregion": []byte("eu-west-1")}, false, storage.AWS{Region: "eu-west-1", DefaultChain: true}},
		{"keys trimmed", map[string][]byte{"awsaccesskeyid": []byte(" id\n"), "awssecretaccesskey": []byte("secret\n")}, false, storage.AWS{AccessKeyID: "id", SecretAccessKey: "secret"}},
		{"endpoint without scheme is https", map[string][]byte{"awsendpoint": []byte("s3.example.test"), "awsregion": []byte("r1")}, false,
			storage.AWS{Endpoint: "https://s3.example.test", Region: "r1", DefaultChain: true}},
		{"insecure endpoint without scheme is http", map[string][]byte{"awsendpoint": []byte("127.0.0.1:7070"), "awsregion": []byte("r1")}, true,
			storage.AWS{Endpoint: "http://127.0.0.1:7070", Region: "r1", DefaultChain: true, Insecure: true}},
		{"https endpoint with insecure stays https", map[string][]byte{"awsendpoint": []byte("https://s3.example.test"), "awsregion": []byte("r1")}, true,
			storage.AWS{Endpoint: "https://s3.example.test", Region: "r1", DefaultChain: true, Insecure: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storage.NewCredentials(tc.data).AWS(tc.insecure)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("AWS() = %+v (keys %q/%d bytes); want %+v", got, got.AccessKeyID, len(got.SecretAccessKey), tc.want)
			}
		})
	}
}

func TestEnvCredentialsReadAtEachUse(t *testing.T) {
	src := storage.EnvCredentials()
	t.Setenv("AWS_ACCESS_KEY_ID", "first")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s1")
	c1, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "second")
	c2, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := c1.AWS(false)
	a2, _ := c2.AWS(false)
	if a1.AccessKeyID != "first" || a2.AccessKeyID != "second" || c1.Fingerprint() == c2.Fingerprint() {
		t.Fatalf("env not re-read: %q then %q", a1.AccessKeyID, a2.AccessKeyID)
	}
}

func TestClientsRebuildOnRotation(t *testing.T) {
	var data = map[string][]byte{"awsaccesskeyid": []byte("a"), "awssecretaccesskey": []byte("b")}
	builds := 0
	cl := storage.Clients[string]{
		Source: storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) { return storage.NewCredentials(data), nil }),
		Build:  func(c storage.Credentials) (string, error) { builds++; a, _ := c.AWS(false); return a.AccessKeyID, nil },
	}
	for _, want := range []struct {
		id     string
		builds int
	}{{"a", 1}, {"a", 1}} {
		got, err := cl.Get(context.Background())
		if err != nil || got != want.id || builds != want.builds {
			t.Fatalf("Get = %q, %v after %d builds; want %q after %d", got, err, builds, want.id, want.builds)
		}
	}
	data = map[string][]byte{"awsaccesskeyid": []byte("c"), "awssecretaccesskey": []byte("b")}
	if got, _ := cl.Get(context.Background()); got != "c" || builds != 2 {
		t.Fatalf("after rotation Get = %q after %d builds; want c after 2", got, builds)
	}
}
