package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// maxJSONObject bounds the small JSON objects (manifests, topologies) ReadJSON reads.
const maxJSONObject = 256 << 20

// Keys lists the keys under prefix. Use it for small listings (one node's manifests,
// the topology files); iterate List for large ones.
func Keys(ctx context.Context, p Provider, prefix string) ([]string, error) {
	var keys []string
	for info, err := range p.List(ctx, prefix) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	return keys, nil
}

// ReadJSON downloads the object at key and decodes it as JSON into v.
func ReadJSON(ctx context.Context, p Provider, key string, v any) error {
	r, err := p.Get(ctx, key, Range{})
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxJSONObject))
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}
