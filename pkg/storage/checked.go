package storage

import (
	"context"
	"io"
)

// checked is the Provider that Open returns: it refuses bad keys, ranges and options
// before the backend sees them, so that every backend refuses them alike and none has to
// check them itself.
type checked struct{ Provider }

func (c checked) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := opts.Validate(); err != nil {
		return ObjectInfo{}, err
	}
	return c.Provider.Put(ctx, key, r, opts)
}

func (c checked) Get(ctx context.Context, key string, rng Range) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := rng.Validate(); err != nil {
		return nil, err
	}
	return c.Provider.Get(ctx, key, rng)
}

func (c checked) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	return c.Provider.Head(ctx, key)
}

func (c checked) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return c.Provider.Delete(ctx, key)
}

func (c checked) Refresh(ctx context.Context, key string, opts RefreshOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	return c.Provider.Refresh(ctx, key, opts)
}
