package agent

import (
	"fmt"
	"testing"
	"time"
)

// The review cache never holds more than its bound, forgets expired answers, and keeps a
// refusal (nil) as an answer.
func TestReviewCacheBoundedAndExpiring(t *testing.T) {
	var c reviewCache
	for i := range 100 {
		c.put(fmt.Sprint(i), i, time.Minute, 10)
		if c.len() > 10 {
			t.Fatalf("after %d puts the cache holds %d entries, bound 10", i+1, c.len())
		}
	}
	if v, ok := c.get("99"); !ok || v != 99 {
		t.Errorf("the newest entry: %v %v", v, ok)
	}
	c.put("refused", nil, time.Minute, 10)
	if v, ok := c.get("refused"); !ok || v != nil {
		t.Errorf("a cached refusal: %v %v", v, ok)
	}
	c.put("short", true, time.Nanosecond, 10)
	time.Sleep(time.Millisecond)
	if _, ok := c.get("short"); ok {
		t.Error("an expired answer was returned")
	}
	var d reviewCache
	for i := range 5000 {
		d.put(fmt.Sprint(i), i, time.Minute, 0)
	}
	if d.len() != 4096 {
		t.Errorf("default bound: %d entries, want 4096", d.len())
	}
}
