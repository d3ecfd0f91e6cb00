package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// Guard admits a request to the API, or writes the refusal and reports false.
type Guard interface {
	Admit(w http.ResponseWriter, r *http.Request) bool
}

// auth runs s.Guard, read at each request, before next; no Guard admits everything.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := s.Guard; g != nil && !g.Admit(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// BearerFile is a Guard for local development and tests: the bearer token must equal the
// content of the file, read at each request.
type BearerFile string

// Admit compares the request's bearer token with the file's content.
func (f BearerFile) Admit(w http.ResponseWriter, r *http.Request) bool {
	want, err := os.ReadFile(string(f))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read token file: "+err.Error())
		return false
	}
	got, ok := bearer(r)
	tok := strings.TrimSpace(string(want))
	if !ok || tok == "" || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
		unauthorized(w, "missing or wrong bearer token")
		return false
	}
	return true
}

func bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cassandra-backup-agent"`)
	writeError(w, http.StatusUnauthorized, msg)
}

// KubeAuth is the agent's Guard in production, as kube-rbac-proxy does it: the caller's
// ServiceAccount token is verified with a TokenReview for the audience of the agent's
// namespace (api.Audience), the caller is authorized with a SubjectAccessReview on
// api.OperationsResource in that namespace (verb by HTTP method, api.OperationsVerb), and a
// request that names a credentials Secret also needs `get` on that Secret. Results are
// cached for TTL in a bounded cache.
type KubeAuth struct {
	// Kube creates the TokenReviews and SubjectAccessReviews.
	Kube kubernetes.Interface
	// Namespace is the agent's pod's namespace.
	Namespace string
	// Audience the token must be bound to; api.Audience(Namespace) when empty.
	Audience string
	// TTL is how long a review's answer is reused; 10s when zero.
	TTL time.Duration
	// MaxEntries bounds the cache; 4096 when zero.
	MaxEntries int

	cache reviewCache
}

// Admit authenticates and authorizes the request; it answers 401 (no valid token for the
// audience), 403 (not allowed) or 503 (the API server did not answer) itself.
func (k *KubeAuth) Admit(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	tok, ok := bearer(r)
	if !ok {
		unauthorized(w, "a ServiceAccount bearer token is required")
		return false
	}
	user, ok, err := k.authenticate(ctx, tok)
	if err != nil {
		klog.FromContext(ctx).Info("Cannot verify a token", "err", err)
		writeError(w, http.StatusServiceUnavailable, "cannot verify the token now")
		return false
	}
	if !ok {
		unauthorized(w, "the token is not valid for audience "+k.audience())
		return false
	}
	checks := []authzv1.ResourceAttributes{{Namespace: k.Namespace, Verb: api.OperationsVerb(r.Method),
		Group: api.OperationsGroup, Resource: api.OperationsResource, Subresource: api.OperationsSubresource}}
	if r.Method == http.MethodPost {
		ns, name, err := secretOf(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return false
		}
		if ns != "" && ns != k.Namespace {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the agent reads Secrets of its own namespace %s only, not of %s", k.Namespace, ns))
			return false
		}
		if name != "" {
			checks = append(checks, authzv1.ResourceAttributes{Namespace: k.Namespace, Verb: "get", Resource: "secrets", Name: name})
		}
	}
	for _, ra := range checks {
		allowed, err := k.authorize(ctx, user, ra)
		if err != nil {
			klog.FromContext(ctx).Info("Cannot authorize a request", "err", err)
			writeError(w, http.StatusServiceUnavailable, "cannot authorize the request now")
			return false
		}
		if !allowed {
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s may not %s", user.Username, describe(ra)))
			return false
		}
	}
	return true
}

func (k *KubeAuth) audience() string {
	if k.Audience != "" {
		return k.Audience
	}
	return api.Audience(k.Namespace)
}

func describe(ra authzv1.ResourceAttributes) string {
	res := ra.Resource
	if ra.Group != "" {
		res += "." + ra.Group
	}
	if ra.Subresource != "" {
		res += "/" + ra.Subresource
	}
	if ra.Name != "" {
		res += " " + ra.Name
	}
	return fmt.Sprintf("%s %s in namespace %s", ra.Verb, res, ra.Namespace)
}

// authenticate reviews the token for the agent's audience; ok is false for a token the API
// server does not accept for it.
func (k *KubeAuth) authenticate(ctx context.Context, tok string) (authnv1.UserInfo, bool, error) {
	sum := sha256.Sum256([]byte(tok))
	key := "token\x00" + hex.EncodeToString(sum[:])
	if v, ok := k.cache.get(key); ok {
		u, _ := v.(*authnv1.UserInfo)
		return derefUser(u), u != nil, nil
	}
	aud := k.audience()
	tr, err := k.Kube.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: tok, Audiences: []string{aud}}}, metav1.CreateOptions{})
	if err != nil {
		return authnv1.UserInfo{}, false, fmt.Errorf("token review: %w", err)
	}
	var u *authnv1.UserInfo
	if tr.Status.Authenticated && slices.Contains(tr.Status.Audiences, aud) {
		u = &tr.Status.User
	}
	k.cache.put(key, u, k.ttl(), k.MaxEntries)
	return derefUser(u), u != nil, nil
}

func derefUser(u *authnv1.UserInfo) authnv1.UserInfo {
	if u == nil {
		return authnv1.UserInfo{}
	}
	return *u
}

// authorize asks the API server whether the user may do ra.
func (k *KubeAuth) authorize(ctx context.Context, u authnv1.UserInfo, ra authzv1.ResourceAttributes) (bool, error) {
	key, _ := json.Marshal([]any{"sar", u, ra})
	if v, ok := k.cache.get(string(key)); ok {
		return v.(bool), nil
	}
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar, err := k.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra, ResourceAttributes: &ra}},
		metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	k.cache.put(string(key), sar.Status.Allowed, k.ttl(), k.MaxEntries)
	return sar.Status.Allowed, nil
}

func (k *KubeAuth) ttl() time.Duration {
	if k.TTL > 0 {
		return k.TTL
	}
	return 10 * time.Second
}

// secretOf reads the credentials Secret a POST names, and puts the body back for the
// handler.
func secretOf(r *http.Request) (namespace, name string, err error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, api.MaxRequestBytes+1))
	r.Body.Close()
	if err != nil {
		return "", "", fmt.Errorf("read request: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	var req struct {
		K8sNamespace  string `json:"k8sNamespace"`
		K8sSecretName string `json:"k8sSecretName"`
	}
	if len(data) > 0 && json.Unmarshal(data, &req) != nil {
		return "", "", fmt.Errorf("malformed request")
	}
	return req.K8sNamespace, req.K8sSecretName, nil
}
