package controlplane

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// ScrapeMetric returns the sum of a metric's samples on the Prometheus endpoint
// http://addr/metrics, or -1 when the endpoint cannot be read.
func ScrapeMetric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}
