package storage

import (
	"context"
	"io"
)

// A Meter is told of object content as it moves, and may hold it back: it is how a caller
// counts progress and caps bandwidth (PutOptions.Meter, MeteredReader).
type Meter interface {
	// Chunk is the most bytes to move between two calls of Moved (a rate limiter's
	// burst); 0 means any number.
	Chunk() int
	// Moved reports n bytes moved. It may block to keep a rate; it returns ctx's error
	// when ctx ends first.
	Moved(ctx context.Context, n int) error
}

// MeteredReader returns a reader that reports what it reads from r to m, at most
// m.Chunk() bytes a read, and fails with ctx's error once ctx ends. With a nil m it
// returns r.
func MeteredReader(ctx context.Context, r io.Reader, m Meter) io.Reader {
	if m == nil {
		return r
	}
	return &meteredReader{ctx: ctx, r: r, m: m, chunk: m.Chunk()}
}

type meteredReader struct {
	ctx   context.Context
	r     io.Reader
	m     Meter
	chunk int
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if m.chunk > 0 && len(p) > m.chunk {
		p = p[:m.chunk]
	}
	n, err := m.r.Read(p)
	if n > 0 {
		if merr := m.m.Moved(m.ctx, n); merr != nil {
			return n, merr
		}
	}
	return n, err
}
