package controlplane

import (
	"bufio"
	"io"
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

// ScrapeBuildInfo returns the labels of the cassandra_backup_build_info sample on the
// Prometheus endpoint http://addr/metrics; nil when the endpoint or the sample is missing
// or its value is not 1.
func ScrapeBuildInfo(addr string) map[string]string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, "cassandra_backup_build_info{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		if value != "1" {
			return nil
		}
		out := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			out[k], _ = strconv.Unquote(v)
		}
		return out
	}
	return nil
}
