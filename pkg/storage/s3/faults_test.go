package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/storagetest"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestFaults: behind a proxy that answers about 11 % of requests 503 SlowDown and 2 %
// 429, and resets about 7 % of connections mid-body, every upload, download, listing and
// deletion succeeds: the faults are absorbed per request.
func TestFaults(t *testing.T) {
	_, proxy, p := faulty(t)
	storagetest.CheckFaults(t, p, proxy)
}

// TestFaultsForcedFailureLeavesNoUploads: uploads that fail for good behind the faulty
// proxy (the source breaks after a part and a half; the content is not what the caller
// said) leave no incomplete multipart upload behind, and no object.
func TestFaultsForcedFailureLeavesNoUploads(t *testing.T) {
	srv, proxy, p := faulty(t)
	data := bytes.Repeat([]byte("x"), 3*storagetest.PartSize)
	for i, c := range []struct {
		r    io.Reader
		opts storage.PutOptions
	}{
		{io.MultiReader(bytes.NewReader(data[:storagetest.PartSize*3/2]), iotest.ErrReader(errors.New("disk read error"))), storage.PutOptions{}},
		{bytes.NewReader(data), storage.PutOptions{SHA256: strings.Repeat("0", 64)}},
		{struct{ io.Reader }{bytes.NewReader(data)}, storage.PutOptions{SHA256: strings.Repeat("0", 64)}},
	} {
		key := fmt.Sprintf("failed/%d", i)
		if _, err := p.Put(t.Context(), key, c.r, c.opts); err == nil {
			t.Fatalf("put %s succeeded", key)
		}
	}
	out, err := srv.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String("faults")})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("incomplete multipart upload left behind: %s %s", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
	objs, err := srv.Client().ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("faults")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		t.Errorf("object of a failed upload left behind: %s", aws.ToString(o.Key))
	}
	t.Logf("%+v", proxy.Stats())
}

// faulty starts versitygw with a bucket "faults" and a FaultProxy with DefaultFaults in
// front of it, and opens the bucket through the proxy, multipart from one part up.
func faulty(t *testing.T) (*emulators.S3Server, *storagetest.FaultProxy, storage.Provider) {
	t.Helper()
	srv := emulators.S3(t)
	srv.CreateBucket(t, "faults")
	proxy := storagetest.StartFaultProxy(t, srv.Endpoint, storagetest.DefaultFaults)
	secret := srv.Secret()
	secret["awsendpoint"] = []byte(proxy.URL)
	p, err := storage.Open(t.Context(), storage.Location{Scheme: storage.SchemeS3, Bucket: "faults"}, storage.Config{
		Credentials: storage.StaticCredentials(secret), Insecure: true, PartSize: storagetest.PartSize, UploadCutoff: storagetest.PartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return srv, proxy, p
}
