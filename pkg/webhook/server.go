// Package webhook is the mutating admission webhook that composes restores onto the pods
// another operator creates: for a pod of a CassandraDataCenter with spec.restore it injects
// the restore init container and points the Cassandra container's token configuration at
// the restore plan ConfigMap. Mutate is the pure decision over the plan (pkg/plan, the
// contract it shares with the restore controller and the agent; the webhook imports no
// controller); Server serves it as AdmissionReview v1 over HTTPS; Certificates keeps the
// serving certificate and the webhook's caBundle.
package webhook

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/serving"
)

// Defaults of Server.
const (
	// DefaultPath is where the pod mutation is served.
	DefaultPath = "/mutate-pods"
	// DefaultMaxBodyBytes bounds an AdmissionReview request (the API server's own limit
	// on an object is 3 MiB; the review wraps it).
	DefaultMaxBodyBytes = 7 << 20
)

// CertSource gives the serving certificate for each TLS handshake.
type CertSource interface {
	// GetCertificate returns the current certificate, as tls.Config.GetCertificate does.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// Server serves the pod mutation over HTTPS. Addr, Certificates and Lookup are required.
type Server struct {
	// Addr is the listen address, as in 127.0.0.1:8443.
	Addr string
	// Path of the mutation endpoint; DefaultPath when empty.
	Path string
	// Certificates gives the serving certificate.
	Certificates CertSource
	// Lookup finds pods' datacenters and plans in caches.
	Lookup Lookup
	// Config is the injection configuration; a pod's profile (Profiles) supplies the
	// Cassandra container and data directory it leaves empty.
	Config Config
	// Profiles detect a pod's profile; the zero value knows the shipped ones.
	Profiles profile.Registry
	// MaxBodyBytes bounds a request body; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// Ready, when set, reports whether the caches are synced: until then /readyz fails and
	// pods the webhook is asked about are denied (so none starts without its restore).
	Ready func() bool
	// Metrics count the answers; nil records nothing.
	Metrics *Metrics
	// Guard says the restore guard ValidatingAdmissionPolicy is installed (the chart's
	// restoreGuard): until Ready, pods are then admitted unchanged, with a warning, and the
	// guard denies those of a datacenter with a pending restore.
	Guard bool
	// Timeouts bound slow and idle clients; zero fields take package serving's defaults.
	Timeouts serving.Timeouts
	// Recorder, when set, records the events decisions ask for (Decision.EventReason) on
	// the pod's datacenter; dry-run requests record none.
	Recorder record.EventRecorder
}

// Handler returns the HTTP handler: the mutation at Path, /healthz and /readyz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	p := s.Path
	if p == "" {
		p = DefaultPath
	}
	mux.HandleFunc("POST "+p, s.serveMutate)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.Ready != nil && !s.Ready() {
			http.Error(w, "informer caches are not synced", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	return mux
}

// TLSConfig returns the server's TLS configuration: TLS 1.2 or later, certificate from
// s.Certificates.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.Certificates.GetCertificate}
}

// Run listens on Addr and serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("webhook listen %s: %w", s.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// HTTPServer returns the http.Server that Serve runs: s.Handler over TLS (TLSConfig),
// with timeouts and header limits, speaking HTTP/1.1 only.
//
// HTTP/2 is off on purpose. The API server keeps its connections to the webhook alive
// either way (no TLS handshake per call), but Go's HTTP/2 server hands every request
// between several goroutines (frame reader, connection loop, handler, frame writer) and
// writes each frame as its own TLS record and system call; HTTP/1.1 reads and answers a
// request on one goroutine. In bench/webhook that is about a fifth less CPU per admission
// in the webhook. It also keeps the webhook out of reach of HTTP/2 stream floods
// (CVE-2023-44487).
func (s *Server) HTTPServer() *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := s.Timeouts.Server("", s.Handler())
	srv.TLSConfig, srv.Protocols = s.TLSConfig(), &protocols
	return srv
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	logger := klog.FromContext(ctx).WithValues("server", "webhook")
	srv := s.HTTPServer()
	srv.BaseContext = func(net.Listener) context.Context { return klog.NewContext(context.WithoutCancel(ctx), logger) }
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	logger.Info("Serving the pod mutation webhook", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("webhook serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("webhook shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhook serve: %w", err)
	}
	return nil
}

func (s *Server) serveMutate(w http.ResponseWriter, r *http.Request) {
	logger := klog.FromContext(r.Context())
	start, result := time.Now(), ResultError
	defer func() { s.Metrics.observe(result, start) }()
	max := s.MaxBodyBytes
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		http.Error(w, "want Content-Type application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("request body over %d bytes", max), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "decode AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil {
		http.Error(w, "AdmissionReview has no request", http.StatusBadRequest)
		return
	}
	resp := s.Review(review.Request)
	result = resultOf(resp)
	if !resp.Allowed {
		logger.V(2).Info("Pod denied", "pod", klog.KRef(review.Request.Namespace, review.Request.Name), "reason", resp.Result.Message)
	}
	out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
	data, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// Review answers one admission request.
func (s *Server) Review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Kind.Kind != "Pod" || req.Kind.Group != "" || req.Operation != admissionv1.Create || req.SubResource != "" {
		return resp
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return denied(resp, http.StatusBadRequest, "decode pod: "+err.Error())
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	if pod.Name == "" {
		pod.Name = req.Name
	}
	// Before the caches hold every datacenter and plan, a restoring pod would look like
	// a pod of no datacenter and start empty: the restore guard refuses it when installed,
	// else the webhook does; its controller retries.
	if s.Ready != nil && !s.Ready() {
		if s.Guard {
			resp.Warnings = []string{"the restore webhook is starting: pod admitted unchanged; the restore guard holds back pods of restoring datacenters"}
			return resp
		}
		return denied(resp, http.StatusServiceUnavailable, "the restore webhook is starting: its caches of datacenters and restore plans are not synced yet; retry")
	}
	dc, err := s.Lookup.Datacenter(&pod)
	if err != nil {
		return denied(resp, http.StatusInternalServerError, err.Error())
	}
	var plan *plan.Plan
	if dc != nil && dc.Spec.Restore != nil {
		if plan, err = s.Lookup.Plan(dc); err != nil {
			return denied(resp, http.StatusInternalServerError, err.Error())
		}
	}
	cfg, warnings := s.configFor(&pod)
	d := Mutate(&pod, dc, plan, cfg)
	if !d.Allowed {
		return denied(resp, http.StatusForbidden, d.Message)
	}
	if d.EventReason != "" && s.Recorder != nil && (req.DryRun == nil || !*req.DryRun) {
		s.Recorder.Event(dc, corev1.EventTypeNormal, d.EventReason, d.Message)
	}
	resp.Warnings = append(warnings, d.Warnings...)
	patch, err := d.PatchJSON()
	if err != nil {
		return denied(resp, http.StatusInternalServerError, err.Error())
	}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp
}

func denied(resp *admissionv1.AdmissionResponse, code int32, msg string) *admissionv1.AdmissionResponse {
	resp.Allowed = false
	reason := metav1.StatusReasonBadRequest
	switch code {
	case http.StatusForbidden:
		reason = metav1.StatusReasonForbidden
	case http.StatusInternalServerError:
		reason = metav1.StatusReasonInternalError
	case http.StatusServiceUnavailable:
		reason = metav1.StatusReasonServiceUnavailable
	}
	resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}
	return resp
}
