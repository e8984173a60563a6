/*
Copyright 2026 The bunq-pinning-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package localstack

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Ingress is a TLS server on loopback that stands in for an ingress
// controller: it serves a certificate, and (Follow) the one of a TLS Secret,
// reloading it a lag after each change as ingress controllers do.
type Ingress struct {
	srv      *httptest.Server
	stop     chan struct{}
	requests atomic.Int64

	mu   sync.Mutex
	crt  string
	pair *tls.Certificate
}

// NewIngress serves crt with its key.
func NewIngress(crt, key string) (*Ingress, error) {
	in := &Ingress{stop: make(chan struct{})}
	if err := in.Serve(crt, key); err != nil {
		return nil, err
	}
	in.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		in.requests.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	in.srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.pair, nil
	}}
	in.srv.StartTLS()
	return in, nil
}

// Addr is the host:port it listens on.
func (in *Ingress) Addr() string { return in.srv.Listener.Addr().String() }

// Requests counts the HTTP requests it received (a TLS handshake alone is none).
func (in *Ingress) Requests() int64 { return in.requests.Load() }

// Serving is the tls.crt it presents now.
func (in *Ingress) Serving() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.crt
}

// Serve makes it present crt at once.
func (in *Ingress) Serve(crt, key string) error {
	pair, err := tls.X509KeyPair([]byte(crt), []byte(key))
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.crt, in.pair = crt, &pair
	return nil
}

// Close stops it.
func (in *Ingress) Close() {
	close(in.stop)
	in.srv.Close()
}

// FollowSecret serves a TLS Secret, and each new tls.crt of it lag after the
// change is seen.
func FollowSecret(ctx context.Context, c client.Reader, key client.ObjectKey, lag time.Duration) (*Ingress, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, key, s); err != nil {
		return nil, err
	}
	in, err := NewIngress(string(s.Data["tls.crt"]), string(s.Data["tls.key"]))
	if err != nil {
		return nil, err
	}
	go in.follow(ctx, c, key, string(s.Data["tls.crt"]), lag)
	return in, nil
}

func (in *Ingress) follow(ctx context.Context, c client.Reader, key client.ObjectKey, seen string, lag time.Duration) {
	for {
		select {
		case <-in.stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		s := &corev1.Secret{}
		if c.Get(ctx, key, s) != nil || string(s.Data["tls.crt"]) == seen {
			continue
		}
		seen = string(s.Data["tls.crt"])
		crt, k := seen, string(s.Data["tls.key"])
		time.AfterFunc(lag, func() { _ = in.Serve(crt, k) })
	}
}
