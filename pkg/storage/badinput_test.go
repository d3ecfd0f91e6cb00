package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
)

// Secret values that must never show up in an error.
const (
	accessKey = "AKIAEXAMPLEACCESSKEY7"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
	azureKey  = "c2VjcmV0LWF6dXJlLWFjY291bnQta2V5LXZhbHVlLTAxMjM0NTY3ODk="
	gcpJSON   = `{"type":"authorized_user","client_secret":"gcp-client-secret-value","refresh_token":"1//refresh-token-value"}`
)

// open parses loc and opens it with data as the Secret; no request leaves the process.
func open(loc string, data map[string][]byte, cfg storage.Config) func() error {
	return func() error {
		cfg.Credentials = storage.StaticCredentials(data)
		p, _, err := storage.OpenLocation(context.Background(), loc, cfg)
		if err == nil {
			p.Close()
		}
		return err
	}
}

func parse(loc string) func() error {
	return func() error { _, err := storage.ParseLocation(loc); return err }
}

func TestBadInput(t *testing.T) {
	aws := func(kv ...string) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []byte(kv[i+1])
		}
		return m
	}
	missingBucket := func() error {
		p, err := file.Open(context.Background(), storage.Location{Scheme: "file", Dir: t.TempDir(), Bucket: "absent"}, storage.Config{})
		if err != nil {
			return err
		}
		return storage.EnsureBucket(context.Background(), p, storage.BucketPolicy{})
	}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		// Locations.
		{"empty location", parse(""), `storage location is empty: want proto://bucket or proto://bucket/cluster/dc/node`},
		{"no scheme", parse("cassandra-bucket"), `storage location "cassandra-bucket" has no scheme: want one of s3://, azure://, gcp://, file:// followed by ://`},
		{"upper-case scheme", parse("S3://bucket"), `storage location "S3://bucket": scheme "S3" must be lower case`},
		{"unknown scheme", parse("ftp://bucket"), `storage location "ftp://bucket": unknown scheme "ftp": want one of s3://, azure://, gcp://, file://`},
		{"gcs is spelled gcp", parse("gcs://bucket"), `unknown scheme "gcs": want one of s3://, azure://, gcp://, file://`},
		{"no bucket", parse("s3://"), `storage location "s3://" has no bucket: want s3://bucket`},
		{"cluster only", parse("s3://bucket/cluster"), `has 1 path segments after the bucket: want none (s3://bucket) or three (s3://bucket/cluster/dc/node)`},
		{"cluster and dc only", parse("s3://bucket/cluster/dc"), `has 2 path segments after the bucket`},
		{"too many segments", parse("s3://bucket/a/b/c/d"), `has 4 path segments after the bucket`},
		{"empty dc", parse("s3://bucket/cluster//node"), `dc is empty`},
		{"dot-dot node", parse("azure://container/cluster/dc/.."), `node ".." is not a name`},
		{"query string", parse("s3://bucket?region=eu-west-1"), `query strings and fragments are not allowed`},
		{"invalid UTF-8", parse("s3://bucket/c/dc/\xff"), `storage location "s3://bucket/c/dc/\xff" is not valid UTF-8`},
		{"space", parse("s3://my bucket"), `contains a space or control character at byte 7`},
		{"upper-case S3 bucket", parse("s3://Cassandra-Bucket"), `S3 bucket "Cassandra-Bucket" must be lower case`},
		{"short S3 bucket", parse("s3://ab"), `S3 bucket "ab" must be 3 to 63 characters long, not 2`},
		{"S3 bucket as IP", parse("s3://192.168.10.1"), `S3 bucket "192.168.10.1" must not be formatted as an IP address`},
		{"S3 bucket double dot", parse("s3://my..bucket"), `S3 bucket "my..bucket" must not contain two adjacent periods`},
		{"S3 bucket leading hyphen", parse("s3://-bucket"), `S3 bucket "-bucket" must start and end with a letter or digit`},
		{"S3 bucket underscore", parse("s3://my_bucket"), `S3 bucket "my_bucket" contains '_': only lower-case letters, digits and "-." are allowed`},
		{"Azure container with dot", parse("azure://my.container"), `Azure container "my.container" contains '.'`},
		{"Azure container double hyphen", parse("azure://my--container"), `Azure container "my--container" must not contain two adjacent hyphens`},
		{"GCS bucket named google", parse("gcp://google-backups"), `GCS bucket "google-backups" must not start with goog or contain google`},
		{"relative file path", parse("file://var/backups/bucket"), `file:// needs an absolute path, as in file:///var/backups/bucket`},
		{"file without directory", parse("file:///bucket"), `file:// needs a directory and a bucket, as in file:///var/backups/bucket`},
		{"unclean file path", parse("file:///var/../backups/bucket"), `path is not clean (empty, . or .. segments)`},

		// Secrets, by the guide's rules.
		{"awsendpoint without awsregion", open("s3://bucket", aws("awsendpoint", "minio.local:9000", "awsaccesskeyid", accessKey, "awssecretaccesskey", secretKey), storage.Config{}),
			`awsendpoint is specified but awsregion is not set`},
		{"access key without secret", open("s3://bucket", aws("awsaccesskeyid", accessKey), storage.Config{}),
			`secret sets awsaccesskeyid but not awssecretaccesskey: set both, or neither to use the default AWS credential chain`},
		{"secret without access key", open("s3://bucket", aws("awssecretaccesskey", secretKey), storage.Config{}),
			`secret sets awssecretaccesskey but not awsaccesskeyid`},
		{"white space only counts as unset", open("s3://bucket", aws("awsaccesskeyid", accessKey, "awssecretaccesskey", " \n"), storage.Config{}),
			`secret sets awsaccesskeyid but not awssecretaccesskey`},
		{"http endpoint without insecure", open("s3://bucket", aws("awsendpoint", "http://minio.local:9000", "awsregion", "us-east-1"), storage.Config{}),
			`awsendpoint uses http:// but insecure is false: set insecure: true to talk HTTP`},
		{"endpoint with other scheme", open("s3://bucket", aws("awsendpoint", "ftp://minio.local", "awsregion", "us-east-1"), storage.Config{}),
			`awsendpoint has scheme "ftp": want http or https`},
		{"endpoint with user info", open("s3://bucket", aws("awsendpoint", "https://"+accessKey+":password@minio.local", "awsregion", "us-east-1"), storage.Config{}),
			`awsendpoint must not carry user information`},
		{"region with spaces", open("s3://bucket", aws("awsregion", "EU Central 1"), storage.Config{}),
			`awsregion is not a region name (lower-case letters, digits and hyphens)`},
		{"S3 part size too small", open("s3://bucket", nil, storage.Config{PartSize: 1 << 20}),
			`part size 1048576 is below S3's minimum of 5242880 bytes`},
		{"azure key and SAS", open("azure://container", aws("azurestorageaccount", "backups01", "azurestoragekey", azureKey, "azuresastoken", "sv=2025-01-05&sig=c2Fz"), storage.Config{}),
			`secret sets both azurestoragekey and azuresastoken: keep one`},
		{"azure SAS malformed", open("azure://container", aws("azurestorageaccount", "backups01", "azuresastoken", "sv=2025-01-05&sig"), storage.Config{}),
			`azuresastoken is not a shared access signature (a query string with sv= and sig=)`},
		{"azure secret empty", open("azure://container", aws("awsaccesskeyid", accessKey, "awssecretaccesskey", secretKey), storage.Config{}),
			`azure:// needs azurestorageaccount in the secret`},
		{"azure key not base64", open("azure://container", aws("azurestorageaccount", "backups01", "azurestoragekey", "not base64!"), storage.Config{}),
			`azurestoragekey is not valid base64`},
		{"azure account name", open("azure://container", aws("azurestorageaccount", "Backups-01", "azurestoragekey", azureKey), storage.Config{}),
			`azurestorageaccount must be 3 to 24 lower-case letters and digits`},
		{"azure endpoint without placeholder", open("azure://container", aws("azurestorageaccount", "backups01", "azurestoragekey", azureKey), storage.Config{AzureEndpoint: "https://blob.example.test"}),
			`azure endpoint "https://blob.example.test" has no {account} placeholder`},
		{"azure http endpoint without insecure", open("azure://container", aws("azurestorageaccount", "backups01", "azurestoragekey", azureKey), storage.Config{AzureEndpoint: "http://127.0.0.1:10000/{account}"}),
			`azure endpoint uses http:// but insecure is false`},
		{"gcp not JSON", open("gcp://bucket", aws("gcp", "client_secret: gcp-client-secret-value"), storage.Config{}),
			`gcp is not valid JSON: want a service-account key file`},
		{"gcp not a service account", open("gcp://bucket", aws("gcp", gcpJSON), storage.Config{}),
			`gcp JSON has type "authorized_user": want a service-account key file (type service_account)`},

		// Request options.
		{"metadataDirective", func() error { _, err := storage.ParseMetadataDirective("MOVE"); return err },
			`metadataDirective "MOVE" is not COPY or REPLACE`},
		{"lower-case metadataDirective", func() error { _, err := storage.ParseMetadataDirective("copy"); return err },
			`metadataDirective "copy" is not COPY or REPLACE`},
		{"refresh metadata with COPY", func() error {
			return storage.RefreshOptions{Directive: storage.MetadataCopy, Metadata: map[string]string{"a": "b"}}.Validate()
		}, `refresh metadata given with metadataDirective COPY: use REPLACE to change metadata`},
		{"bad sha256", func() error { return storage.PutOptions{SHA256: "abc"}.Validate() }, `sha256 "abc" is not 64 hex digits`},
		{"metadata key with hyphen", func() error {
			return storage.PutOptions{Metadata: map[string]string{"snapshot-tag": "x"}}.Validate()
		}, `metadata key "snapshot-tag": want a lower-case letter followed by lower-case letters, digits and _`},
		{"metadata value not ASCII", func() error {
			return storage.PutOptions{Metadata: map[string]string{"tag": "snapshot\n"}}.Validate()
		}, `metadata "tag": value must be printable ASCII`},
		{"negative range offset", func() error { return storage.Range{Offset: -1}.Validate() }, `range offset -1 is negative`},
		{"negative range length", func() error { return storage.Range{Length: -5}.Validate() }, `range length -5 is negative (0 means to the end)`},
		{"empty key", func() error { return storage.ValidateKey("") }, `object key is empty`},
		{"missing bucket without createMissingBucket", missingBucket,
			`bucket absent: bucket not found (set createMissingBucket: true to create it)`},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	secrets := []string{accessKey, secretKey, azureKey, "gcp-client-secret-value", "refresh-token-value"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %s\nwant it to contain\n  %s", err, tc.want)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error reveals a secret value: %s", strings.ReplaceAll(err.Error(), s, "<SECRET>"))
				}
			}
		})
	}
}

func TestMissingBucketIsErrBucketNotFound(t *testing.T) {
	p, err := file.Open(context.Background(), storage.Location{Scheme: "file", Dir: t.TempDir(), Bucket: "absent"}, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.EnsureBucket(context.Background(), p, storage.BucketPolicy{}); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("EnsureBucket = %v; want ErrBucketNotFound", err)
	}
}
