package progress

import "time"

// A controller keeps its Meters and Gate for as long as the process runs, while the
// objects they follow come and go: a transfer that ends is forgotten (Forget), but one
// whose object is deleted mid-way, or whose nodes are no longer polled (a cancelled
// backup), is never seen again. Sweep drops those, so the maps hold the live transfers
// only, without a watch on deletions.

// StaleAfter is how long a meter that no poll fed is kept: ten poll-less minutes mean
// its object finished or is gone (a live transfer is polled every few seconds; one that
// comes back after that only lacks a rate for one poll).
const StaleAfter = 10 * time.Minute

// sweepEvery spaces the passes over a whole map.
const sweepEvery = time.Minute

// Sweep drops the meters not observed for StaleAfter before now, in one pass at most
// every minute (call it at every poll), and returns how many remain.
func (ms *Meters) Sweep(now time.Time) int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if now.Sub(ms.swept) < sweepEvery {
		return len(ms.m)
	}
	ms.swept = now
	return ms.prune(now.Add(-StaleAfter))
}

// Len returns how many meters are kept.
func (ms *Meters) Len() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.m)
}

// Sweep drops the writes older than StatusInterval before now, which no longer hold a
// write back (Due answers as if there were none), in one pass at most every minute;
// call it at every poll. It returns how many remain.
func (g *Gate) Sweep(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.swept) >= sweepEvery {
		g.swept = now
		for key, w := range g.m {
			if now.Sub(w) >= StatusInterval {
				delete(g.m, key)
			}
		}
	}
	return len(g.m)
}

// Len returns how many write times are kept.
func (g *Gate) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
