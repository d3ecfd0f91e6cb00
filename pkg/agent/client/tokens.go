package client

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// TokenSource gives the bearer token for the agents of a namespace: a ServiceAccount
// token bound to api.Audience(namespace).
type TokenSource interface {
	Token(ctx context.Context, namespace string) (string, error)
}

func (c *Client) token(ctx context.Context) (string, error) {
	if c == nil {
		return "", nil
	}
	if c.Tokens != nil {
		tok, err := c.Tokens.Token(ctx, c.Namespace)
		if err != nil {
			return "", fmt.Errorf("token for the agents of namespace %q: %w", c.Namespace, err)
		}
		return tok, nil
	}
	return c.Token, nil
}

// TokenFile reads the token from a file at every request, so the kubelet's rotation of a
// projected token is picked up; {namespace} in the path is replaced by the namespace (one
// projected volume per audience).
type TokenFile string

// Token reads the file of the namespace.
func (f TokenFile) Token(_ context.Context, namespace string) (string, error) {
	path := strings.ReplaceAll(string(f), "{namespace}", namespace)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}

// TokenRequester mints tokens of a ServiceAccount with the TokenRequest API, one per
// namespace audience, and mints again when a token has lived 80% of its lifetime.
type TokenRequester struct {
	// Kube creates the tokens (create serviceaccounts/token on the ServiceAccount).
	Kube kubernetes.Interface
	// Namespace and Name are the ServiceAccount's; when Name is empty, the caller's own
	// ServiceAccount, found with a SelfSubjectReview.
	Namespace, Name string
	// Lifetime is the tokens' requested lifetime; 1 hour when zero (the API server may
	// grant another, which is honoured).
	Lifetime time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]minted
}

type minted struct {
	token   string
	refresh time.Time
}

// Token returns a valid token for the namespace's audience, minting one when needed.
func (t *TokenRequester) Token(ctx context.Context, namespace string) (string, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.tokens[namespace]; ok && now().Before(m.refresh) {
		return m.token, nil
	}
	if err := t.resolve(ctx); err != nil {
		return "", err
	}
	secs := int64(time.Hour / time.Second)
	if t.Lifetime > 0 {
		secs = int64(t.Lifetime / time.Second)
	}
	start := now()
	tr, err := t.Kube.CoreV1().ServiceAccounts(t.Namespace).CreateToken(ctx, t.Name, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{api.Audience(namespace)}, ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token of ServiceAccount %s/%s: %w", t.Namespace, t.Name, err)
	}
	life := tr.Status.ExpirationTimestamp.Sub(start)
	if t.tokens == nil {
		t.tokens = map[string]minted{}
	}
	t.tokens[namespace] = minted{token: tr.Status.Token, refresh: start.Add(life * 8 / 10)}
	return tr.Status.Token, nil
}

// resolve finds the caller's own ServiceAccount when none is named; t.mu is held.
func (t *TokenRequester) resolve(ctx context.Context) error {
	if t.Name != "" {
		return nil
	}
	ssr, err := t.Kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("who am I (SelfSubjectReview): %w", err)
	}
	user := ssr.Status.UserInfo.Username
	parts := strings.Split(user, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return fmt.Errorf("the operator runs as %q, not a ServiceAccount: name the ServiceAccount whose tokens the agents accept (--agent-service-account)", user)
	}
	t.Namespace, t.Name = parts[2], parts[3]
	return nil
}
