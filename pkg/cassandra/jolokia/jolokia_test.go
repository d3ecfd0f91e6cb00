package jolokia

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// recorder is a Jolokia endpoint that records the request body and answers with a fixed response.
type recorder struct {
	got      []map[string]any
	response string
	user     string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if u, _, _ := req.BasicAuth(); r.user != "" && u != r.user {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	b, _ := io.ReadAll(req.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, m)
	io.WriteString(w, r.response)
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func(j *Client) (any, error)
		response string
		want     map[string]any
		result   any
	}{
		{
			name: "take snapshot",
			call: func(j *Client) (any, error) {
				return nil, j.TakeSnapshot(ctx, "t1", cassandra.Entity{Keyspace: "ks1"}, cassandra.Entity{Keyspace: "ks2", Table: "t"})
			},
			response: `{"request":{},"value":null,"timestamp":1,"status":200}`,
			want: map[string]any{"type": "exec", "mbean": StorageServiceMBean,
				"operation": "takeSnapshot(java.lang.String,java.util.Map,[Ljava.lang.String;)",
				"arguments": []any{"t1", map[string]any{"skipFlush": "false"}, []any{"ks1", "ks2.t"}}},
		},
		{
			name:     "clear snapshot of all keyspaces",
			call:     func(j *Client) (any, error) { return nil, j.ClearSnapshot(ctx, "t1") },
			response: `{"value":null,"status":200}`,
			want: map[string]any{"type": "exec", "mbean": StorageServiceMBean,
				"operation": "clearSnapshot(java.lang.String,[Ljava.lang.String;)", "arguments": []any{"t1", []any{}}},
		},
		{
			name:     "flush",
			call:     func(j *Client) (any, error) { return nil, j.Flush(ctx, "ks", "a", "b") },
			response: `{"value":null,"status":200}`,
			want: map[string]any{"type": "exec", "mbean": StorageServiceMBean,
				"operation": "forceKeyspaceFlush(java.lang.String,[Ljava.lang.String;)", "arguments": []any{"ks", []any{"a", "b"}}},
		},
		{
			name:     "tokens",
			call:     func(j *Client) (any, error) { return j.Tokens(ctx) },
			response: `{"value":["-9","3"],"status":200}`,
			want:     map[string]any{"type": "read", "mbean": StorageServiceMBean, "attribute": "Tokens"},
			result:   []string{"-9", "3"},
		},
		{
			name:     "host id",
			call:     func(j *Client) (any, error) { return j.HostID(ctx) },
			response: `{"value":"6b3f1c0e-0000-4000-8000-000000000001","status":200}`,
			want:     map[string]any{"type": "read", "mbean": StorageServiceMBean, "attribute": "LocalHostId"},
			result:   "6b3f1c0e-0000-4000-8000-000000000001",
		},
		{
			name:     "schema version",
			call:     func(j *Client) (any, error) { return j.SchemaVersion(ctx) },
			response: `{"value":"59adb24e-f3cd-3e02-97f0-5b395827453f","status":200}`,
			want:     map[string]any{"type": "read", "mbean": StorageServiceMBean, "attribute": "SchemaVersion"},
			result:   "59adb24e-f3cd-3e02-97f0-5b395827453f",
		},
		{
			name:     "import",
			call:     func(j *Client) (any, error) { return j.ImportSSTables(ctx, "ks", "t", []string{"/d/x"}) },
			response: `{"value":[],"status":200}`,
			want: map[string]any{"type": "exec", "mbean": "org.apache.cassandra.db:type=Tables,keyspace=ks,table=t",
				"operation": "importNewSSTables(java.util.Set,boolean,boolean,boolean,boolean,boolean,boolean)",
				"arguments": []any{[]any{"/d/x"}, true, true, true, true, true, false}},
			result: []string{},
		},
		{
			name:     "release version",
			call:     func(j *Client) (any, error) { return j.ReleaseVersion(ctx) },
			response: `{"value":"3.11.17","status":200}`,
			want:     map[string]any{"type": "read", "mbean": StorageServiceMBean, "attribute": "ReleaseVersion"},
			result:   "3.11.17",
		},
		{
			name:     "refresh",
			call:     func(j *Client) (any, error) { return nil, j.LoadNewSSTables(ctx, "ks", "t") },
			response: `{"value":null,"status":200}`,
			want: map[string]any{"type": "exec", "mbean": StorageServiceMBean,
				"operation": "loadNewSSTables(java.lang.String,java.lang.String)", "arguments": []any{"ks", "t"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{response: tt.response, user: "cassandra"}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			j := &Client{URL: srv.URL + "/jolokia/", Username: "cassandra", Password: "pw"}
			res, err := tt.call(j)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.got) != 1 || !reflect.DeepEqual(rec.got[0], tt.want) {
				t.Fatalf("request = %v\nwant %v", rec.got, tt.want)
			}
			if tt.result != nil && !reflect.DeepEqual(res, tt.result) {
				t.Errorf("result = %#v, want %#v", res, tt.result)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{response: `{"request":{},"error_type":"java.io.IOException","error":"java.io.IOException : Snapshot t1 already exists.","status":500}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	j := &Client{URL: srv.URL + "/jolokia/"}
	err := j.TakeSnapshot(ctx, "t1")
	var je *Error
	if !errors.As(err, &je) || je.Status != 500 || je.Type != "java.io.IOException" {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if !errors.Is(err, cassandra.ErrRefused) {
		t.Errorf("err = %v does not match cassandra.ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "takeSnapshot") || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("error lacks context: %v", err)
	}

	rec.user = "someone"
	if _, err := j.Tokens(ctx); err == nil || !strings.Contains(err.Error(), "401") || errors.Is(err, cassandra.ErrRefused) {
		t.Errorf("unauthenticated: err = %v", err)
	}
	rec.user = ""
	rec.response = `not json`
	if _, err := j.HostID(ctx); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("bad body: err = %v", err)
	}
}
