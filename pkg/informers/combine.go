package informers

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// combine makes one Informer of one informer per namespace.
func combine(infs []cache.SharedIndexInformer) Informer {
	if len(infs) == 1 {
		return single{infs[0]}
	}
	return multi(infs)
}

// single adapts one shared informer.
type single struct{ inf cache.SharedIndexInformer }

func (s single) AddEventHandler(h cache.ResourceEventHandler) error {
	_, err := s.inf.AddEventHandler(h)
	return err
}
func (s single) HasSynced() bool        { return s.inf.HasSynced() }
func (s single) Indexer() cache.Indexer { return s.inf.GetIndexer() }

// multi is one informer per namespace, seen as one.
type multi []cache.SharedIndexInformer

func (m multi) AddEventHandler(h cache.ResourceEventHandler) error {
	var errs []error
	for _, inf := range m {
		if _, err := inf.AddEventHandler(h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m multi) HasSynced() bool {
	for _, inf := range m {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

func (m multi) Indexer() cache.Indexer {
	idx := make(mergedIndexer, len(m))
	for i, inf := range m {
		idx[i] = inf.GetIndexer()
	}
	return idx
}

// mergedIndexer reads from one cache per namespace; the namespaces do not overlap, so
// a key or an object lives in at most one of them. It is read-only: informers write
// to their own caches.
type mergedIndexer []cache.Indexer

var errReadOnly = errors.New("a merged informer cache is read-only")

func (m mergedIndexer) Add(any) error                        { return errReadOnly }
func (m mergedIndexer) Update(any) error                     { return errReadOnly }
func (m mergedIndexer) Delete(any) error                     { return errReadOnly }
func (m mergedIndexer) Replace([]any, string) error          { return errReadOnly }
func (m mergedIndexer) Resync() error                        { return errReadOnly }
func (m mergedIndexer) AddIndexers(cache.Indexers) error     { return errReadOnly }
func (m mergedIndexer) GetIndexers() cache.Indexers          { return m[0].GetIndexers() }
func (m mergedIndexer) Bookmark(string)                      {}
func (m mergedIndexer) LastStoreSyncResourceVersion() string { return "" }

func (m mergedIndexer) List() []any {
	var all []any
	for _, idx := range m {
		all = append(all, idx.List()...)
	}
	return all
}

func (m mergedIndexer) ListKeys() []string {
	var all []string
	for _, idx := range m {
		all = append(all, idx.ListKeys()...)
	}
	return all
}

func (m mergedIndexer) Get(obj any) (any, bool, error) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return nil, false, err
	}
	return m.GetByKey(key)
}

func (m mergedIndexer) GetByKey(key string) (any, bool, error) {
	for _, idx := range m {
		if item, ok, err := idx.GetByKey(key); err != nil || ok {
			return item, ok, err
		}
	}
	return nil, false, nil
}

func (m mergedIndexer) Index(name string, obj any) ([]any, error) {
	if name == cache.NamespaceIndex {
		o, err := meta.Accessor(obj)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", name, err)
		}
		return m.ByIndex(name, o.GetNamespace())
	}
	var all []any
	for _, idx := range m {
		items, err := idx.Index(name, obj)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	return all, nil
}

func (m mergedIndexer) IndexKeys(name, value string) ([]string, error) {
	var all []string
	for _, idx := range m {
		keys, err := idx.IndexKeys(name, value)
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
	}
	return all, nil
}

func (m mergedIndexer) ListIndexFuncValues(name string) []string {
	var all []string
	for _, idx := range m {
		all = append(all, idx.ListIndexFuncValues(name)...)
	}
	return all
}

func (m mergedIndexer) ByIndex(name, value string) ([]any, error) {
	var all []any
	for _, idx := range m {
		items, err := idx.ByIndex(name, value)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	return all, nil
}
