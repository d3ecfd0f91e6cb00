package webhook

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// DefaultMaxDecodedPlans bounds the plans CacheLookup keeps decoded: the restores pending
// at once in the watched namespaces, with room to spare.
const DefaultMaxDecodedPlans = 64

// planCache keeps decoded plans by ConfigMap uid, at most max of them: past it the entry
// stored longest ago goes (a ConfigMap deleted, or a datacenter no longer restoring, is
// never read again). Each uid holds one resourceVersion.
type planCache struct {
	mu    sync.Mutex
	max   int
	plans map[types.UID]*decodedPlan
	order []types.UID // insertion order of the uids in plans
}

// get returns the plan decoded for uid at resourceVersion rv.
func (c *planCache) get(uid types.UID, rv string) (*decodedPlan, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.plans[uid]
	if !ok || d.resourceVersion != rv {
		return nil, false
	}
	return d, true
}

// put stores d for uid, evicting the oldest entry when full.
func (c *planCache) put(uid types.UID, d *decodedPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[types.UID]*decodedPlan{}
	}
	if _, ok := c.plans[uid]; !ok {
		max := c.max
		if max <= 0 {
			max = DefaultMaxDecodedPlans
		}
		for len(c.order) >= max {
			delete(c.plans, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, uid)
	}
	c.plans[uid] = d
}

// len is how many plans are kept.
func (c *planCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.plans)
}
