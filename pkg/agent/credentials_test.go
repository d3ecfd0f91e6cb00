package agent

import (
	"context"
	"errors"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// The Secret is read once per operation: the first successful resolution is kept, a
// failed one is tried again.
func TestCredentialsResolvedOncePerOperation(t *testing.T) {
	calls := 0
	src := storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) {
		calls++
		if calls == 1 {
			return storage.Credentials{}, errors.New("secret not found")
		}
		return storage.NewCredentials(map[string][]byte{"awsregion": []byte("eu-central-1")}), nil
	})
	o := &onceSource{src: src}
	if _, err := o.Credentials(t.Context()); err == nil {
		t.Fatal("the first resolution's error was swallowed")
	}
	for range 5 {
		if _, err := o.Credentials(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("the source was read %d times, want 2 (a failure, then once)", calls)
	}
}
