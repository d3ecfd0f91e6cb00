package emulators

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Server is a running versitygw with the posix backend.
type S3Server struct {
	// Endpoint is the server's URL, http://<host>:<port>.
	Endpoint string
	// Region is the region the server signs for.
	Region string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// Dir is the posix backend's root directory.
	Dir string
}

// S3 starts versitygw on a free port with fresh root credentials. It keeps
// connections alive, as S3 does (versitygw's default closes each one after a request), so
// that clients are tested, and measured, on the connection reuse they get in production.
func S3(t testing.TB) *S3Server {
	t.Helper()
	bin := binary(t, "versitygw")
	s := &S3Server{
		Region:    "us-east-1",
		AccessKey: "AK" + randomHex(t, 8),
		SecretKey: randomHex(t, 20),
		Dir:       t.TempDir(),
	}
	host, port := start(t, server{name: "versitygw", bin: bin,
		env: []string{"ROOT_ACCESS_KEY=" + s.AccessKey, "ROOT_SECRET_KEY=" + s.SecretKey}, ready: status200,
		on: func(host string, port int) (string, []string) {
			return "http://" + hostPort(host, port) + "/health", []string{"--port", hostPort(host, port), "--region", s.Region,
				"--health", "/health", "--quiet", "--keep-alive", "posix", s.Dir}
		}})
	s.Endpoint = "http://" + hostPort(host, port)
	return s
}

// Secret returns Secret data (the guide's keys) for this server.
func (s *S3Server) Secret() map[string][]byte {
	return map[string][]byte{
		"awsaccesskeyid":     []byte(s.AccessKey),
		"awssecretaccesskey": []byte(s.SecretKey),
		"awsregion":          []byte(s.Region),
		"awsendpoint":        []byte(s.Endpoint),
	}
}

// Client returns a plain SDK client for the server (path-style, static credentials).
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{Proxy: nil}},
	})
}

// CreateBucket creates bucket on the server.
func (s *S3Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	c, cancel := ctx(t)
	defer cancel()
	if _, err := s.Client().CreateBucket(c, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("emulators: create S3 bucket %s: %v", bucket, err)
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
