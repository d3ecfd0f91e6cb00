package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ParseSample reads a percentage such as 10% or 2.5% into a fraction in (0, 1]; empty
// means every object (1).
func ParseSample(s string) (float64, error) {
	if s == "" {
		return 1, nil
	}
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("sample %q: want a percentage such as 10%%", s)
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p <= 0 || p > 100 {
		return 0, fmt.Errorf("sample %q: want a percentage above 0%% and at most 100%%", s)
	}
	return p / 100, nil
}

// Sampled reports whether the object key is in a sample of the given fraction: the first
// 8 bytes of the key's SHA-256, as a fraction of 2^64, are below it. The choice depends
// on the key only, so every run of a drill checks the same objects.
func Sampled(key string, fraction float64) bool {
	if fraction >= 1 {
		return true
	}
	sum := sha256.Sum256([]byte(key))
	v := binary.BigEndian.Uint64(sum[:8])
	return float64(v) < fraction*(1<<64)
}
