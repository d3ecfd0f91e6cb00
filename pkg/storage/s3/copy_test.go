package s3

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// TestRefreshMultipartCopy lowers the CopyObject limit so that Refresh takes the
// multipart-copy path it takes for objects over 5 GiB.
func TestRefreshMultipartCopy(t *testing.T) {
	srv := emulators.S3(t)
	srv.CreateBucket(t, "big")
	sp, err := Open(t.Context(), storage.Location{Scheme: storage.SchemeS3, Bucket: "big"}, storage.Config{
		Credentials: storage.StaticCredentials(srv.Secret()), Insecure: true, PartSize: 5 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := sp.(*Provider)
	p.copyMax, p.copyPart = 6<<20, 5<<20
	data := make([]byte, 12<<20+7)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Put(t.Context(), "sstable", bytes.NewReader(data), storage.PutOptions{Metadata: map[string]string{"snapshot": "s1"}, ContentType: "application/x-sstable"}); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []storage.RefreshOptions{{}, {Directive: storage.MetadataReplace, Metadata: map[string]string{"owner": "b2"}}} {
		if err := p.Refresh(t.Context(), "sstable", opts); err != nil {
			t.Fatalf("Refresh %+v: %v", opts, err)
		}
	}
	h, err := p.Head(t.Context(), "sstable")
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != int64(len(data)) || h.Metadata["owner"] != "b2" || h.Metadata["snapshot"] != "" || h.Metadata[storage.MetaRefreshed] == "" {
		t.Fatalf("after multipart-copy refreshes Head = %+v", h)
	}
	rc, err := p.Get(t.Context(), "sstable", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content after multipart-copy refresh differs (%d bytes, %v)", len(got), err)
	}
	// No multipart upload is left behind.
	out, err := srv.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: ptr("big")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left", len(out.Uploads))
	}
}

func ptr(s string) *string { return &s }
