package agent

import (
	"sync"
	"time"
)

// reviewCache keeps review answers for a short time, at most max entries: when full, the
// expired entries go first, then arbitrary ones.
type reviewCache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	v       any
	expires time.Time
}

func (c *reviewCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.v, true
}

func (c *reviewCache) put(key string, v any, ttl time.Duration, max int) {
	if max <= 0 {
		max = 4096
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	now := time.Now()
	if len(c.m) >= max {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
	}
	for k := range c.m {
		if len(c.m) < max {
			break
		}
		delete(c.m, k)
	}
	c.m[key] = cached{v: v, expires: now.Add(ttl)}
}

// len returns the number of entries, expired or not.
func (c *reviewCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
