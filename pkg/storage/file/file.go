// Package file is the storage.Provider for file:// locations: a bucket is a directory
// under the location's directory, an object a file. Writes are atomic (temp file, fsync,
// rename, fsync of the directory); user metadata lives in a hidden .storage directory in
// the bucket, which listings skip.
package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

func init() { storage.Register(storage.SchemeFile, Open) }

// reserved is the hidden directory of a bucket that holds temp files and metadata.
const reserved = ".storage"

// Provider stores objects as files under Root.
type Provider struct {
	bucket string
	root   string
	creds  storage.CredentialSource
}

var _ storage.Provider = (*Provider)(nil)

// Open returns the Provider of loc: the directory loc.Dir/loc.Bucket.
func Open(_ context.Context, loc storage.Location, cfg storage.Config) (storage.Provider, error) {
	if loc.Scheme != storage.SchemeFile {
		return nil, fmt.Errorf("file provider cannot open %s:// locations", loc.Scheme)
	}
	if !filepath.IsAbs(loc.Dir) {
		return nil, fmt.Errorf("file location directory %q is not absolute", loc.Dir)
	}
	cfg = cfg.WithDefaults()
	return &Provider{bucket: loc.Bucket, root: filepath.Join(loc.Dir, loc.Bucket), creds: cfg.Credentials}, nil
}

// resolve resolves the credentials like the cloud providers do, although a directory needs
// none: an operation whose Secret cannot be read fails the same way on every backend.
func (p *Provider) resolve(ctx context.Context) error {
	if _, err := p.creds.Credentials(ctx); err != nil {
		return fmt.Errorf("resolve credentials: %w", err)
	}
	return nil
}

// Bucket returns the bucket directory's name.
func (p *Provider) Bucket() string { return p.bucket }

// Root returns the bucket directory.
func (p *Provider) Root() string { return p.root }

// BucketExists reports whether the bucket directory exists.
func (p *Provider) BucketExists(ctx context.Context) (bool, error) {
	if err := p.resolve(ctx); err != nil {
		return false, err
	}
	fi, err := os.Stat(p.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.IsDir():
		return false, fmt.Errorf("bucket %s is not a directory", p.root)
	}
	return true, nil
}

// CreateBucket creates the bucket directory (its parent must exist).
func (p *Provider) CreateBucket(ctx context.Context) error {
	if err := p.resolve(ctx); err != nil {
		return err
	}
	// Only the bucket itself is created, never the directory that holds it: that is a
	// mounted volume, and a missing mount must not turn into backups written to the
	// container's own, short-lived file system.
	err := os.Mkdir(p.root, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create bucket %s: %w", p.root, storage.ErrBucketExists)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create bucket %s: the directory %s that holds it does not exist: create it, or mount the backup volume there", p.root, filepath.Dir(p.root))
	}
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	return nil
}

// path maps a key to its file, refusing keys that would leave the bucket.
func (p *Provider) path(key string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", err
	}
	if path.Clean(key) != key || strings.HasSuffix(key, "/") {
		return "", fmt.Errorf("object key %q is not a clean relative path (file://)", key)
	}
	if key == ".." || strings.HasPrefix(key, "../") {
		return "", fmt.Errorf("object key %q leaves the bucket", key)
	}
	if key == reserved || strings.HasPrefix(key, reserved+"/") {
		return "", fmt.Errorf("object key %q is in the reserved %s directory", key, reserved)
	}
	return filepath.Join(p.root, filepath.FromSlash(key)), nil
}

func (p *Provider) metaPath(key string) string {
	return filepath.Join(p.root, reserved, "meta", filepath.FromSlash(key)+".json")
}

type meta struct {
	Metadata    map[string]string `json:"metadata,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
}

// Put writes r to a temp file, fsyncs it and renames it onto key.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := p.resolve(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}
	dst, err := p.path(key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if ok, err := p.BucketExists(ctx); err != nil || !ok {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, bucketErr(err, p.bucket))
	}
	tmpDir := filepath.Join(p.root, reserved, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	hr := storage.NewSHA256Reader(storage.MeteredReader(ctx, r, opts.Meter), opts.SHA256)
	if _, err := io.Copy(f, ctxReader{ctx, hr}); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: fsync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	md := opts.WithSHA256()
	if err := p.writeMeta(key, meta{Metadata: md, ContentType: opts.ContentType}); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	committed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	return storage.ObjectInfo{Key: key, Size: hr.N(), ModTime: fi.ModTime(), SHA256: hr.Sum(), Metadata: md}, nil
}

func bucketErr(err error, bucket string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("bucket %s: %w", bucket, storage.ErrBucketNotFound)
}

// writeMeta stores the metadata of key atomically; empty metadata removes the file.
func (p *Provider) writeMeta(key string, m meta) error {
	mp := p.metaPath(key)
	if len(m.Metadata) == 0 && m.ContentType == "" {
		if err := os.Remove(mp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return WriteAtomic(mp, b)
}

// WriteAtomic writes data to a temporary file beside path, syncs it and renames it onto
// path, so a reader sees the old content or the new, never a part.
func WriteAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func (p *Provider) readMeta(key string) (meta, error) {
	var m meta
	b, err := os.ReadFile(p.metaPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("metadata of %s: %w", key, err)
	}
	return m, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens key and returns the bytes of rng.
func (p *Provider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	if err := p.resolve(ctx); err != nil {
		return nil, err
	}
	fp, err := p.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, notFound(err))
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%w", storage.ErrNotFound)
	}
	if err == nil && rng.Offset > 0 && rng.Offset >= fi.Size() {
		err = fmt.Errorf("range offset %d is not before the end of the %d-byte object", rng.Offset, fi.Size())
	}
	if err == nil && rng.Offset > 0 {
		_, err = f.Seek(rng.Offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if rng.Length == 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, rng.Length), f}, nil
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	return err
}

// Head returns size, modification time and metadata of key.
func (p *Provider) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := p.resolve(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}
	fp, err := p.path(key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	fi, err := os.Stat(fp)
	if err == nil && fi.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, notFound(err))
	}
	m, err := p.readMeta(key)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, err)
	}
	if m.Metadata == nil {
		m.Metadata = map[string]string{}
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), SHA256: m.Metadata[storage.MetaSHA256], Metadata: m.Metadata}, nil
}

// List walks the directories under prefix, one directory in memory at a time.
func (p *Provider) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		if err := p.resolve(ctx); err != nil {
			yield(storage.ObjectInfo{}, err)
			return
		}
		// Start at the deepest directory the prefix names in full.
		start := p.root
		if i := strings.LastIndex(prefix, "/"); i > 0 {
			start = filepath.Join(p.root, filepath.FromSlash(prefix[:i]))
		}
		if rel, err := filepath.Rel(p.root, start); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			yield(storage.ObjectInfo{}, fmt.Errorf("list %q: prefix leaves the bucket", prefix))
			return
		}
		err := filepath.WalkDir(start, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && fp == start {
					return fs.SkipAll
				}
				return err
			}
			rel, _ := filepath.Rel(p.root, fp)
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if key == reserved {
					return fs.SkipDir
				}
				if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
					return fs.SkipDir
				}
				return nil
			}
			if !strings.HasPrefix(key, prefix) || !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			if err != nil {
				return err
			}
			if !yield(storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(storage.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
		}
	}
}

var errStop = errors.New("stop")

// Delete removes key and its metadata, then its directories while they are empty.
func (p *Provider) Delete(ctx context.Context, key string) error {
	if err := p.resolve(ctx); err != nil {
		return err
	}
	fp, err := p.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(fp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(p.metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: metadata: %w", key, err)
	}
	for dir := filepath.Dir(fp); dir != p.root && strings.HasPrefix(dir, p.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or gone
		}
	}
	return nil
}

// Refresh sets key's modification time to now and rewrites its metadata with the
// refresh stamp (keeping or replacing the user metadata).
func (p *Provider) Refresh(ctx context.Context, key string, opts storage.RefreshOptions) error {
	if err := p.resolve(ctx); err != nil {
		return err
	}
	fp, err := p.path(key)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(fp); err != nil || fi.IsDir() {
		if err == nil {
			err = fs.ErrNotExist
		}
		return fmt.Errorf("refresh %s: %w", key, notFound(err))
	}
	m, err := p.readMeta(key)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", key, err)
	}
	now := time.Now()
	if opts.Directive == storage.MetadataReplace {
		m.Metadata = opts.Metadata
	}
	m.Metadata = storage.Stamp(m.Metadata, now)
	if err := p.writeMeta(key, m); err != nil {
		return fmt.Errorf("refresh %s: %w", key, err)
	}
	if err := os.Chtimes(fp, now, now); err != nil {
		return fmt.Errorf("refresh %s: %w", key, err)
	}
	return nil
}

// Close does nothing.
func (p *Provider) Close() error { return nil }

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
