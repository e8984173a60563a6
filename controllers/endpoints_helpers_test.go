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

package controllers

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Callback endpoints for the specs: real TLS servers on loopback that serve a
// Secret's chain as an ingress controller does, following it after a lag.

// endpointRoutes maps a callback's host:port to the loopback address of the
// spec's server, as DNS would; testDial is the reconciler's dialer.
var endpointRoutes sync.Map

func testDial(ctx context.Context, network, address string) (net.Conn, error) {
	if to, ok := endpointRoutes.Load(address); ok {
		address = to.(string)
	}
	return (&net.Dialer{}).DialContext(ctx, network, address)
}

// callbackEndpoint is one TLS server and what it serves.
type callbackEndpoint struct {
	srv *httptest.Server
	mu  sync.Mutex
	crt string
	tls *tls.Certificate
}

func (e *callbackEndpoint) addr() string { return e.srv.Listener.Addr().String() }

// serving is the tls.crt the endpoint serves now.
func (e *callbackEndpoint) serving() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.crt
}

// serve makes the endpoint present crt at once.
func (e *callbackEndpoint) serve(crt, key string) {
	pair, err := tls.X509KeyPair([]byte(crt), []byte(key))
	Expect(err).NotTo(HaveOccurred())
	e.mu.Lock()
	defer e.mu.Unlock()
	e.crt, e.tls = crt, &pair
}

// newEndpoint starts a TLS server presenting crt, reachable as host:443 through testDial.
func newEndpoint(host, crt, key string) *callbackEndpoint {
	e := &callbackEndpoint{}
	e.serve(crt, key)
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	e.srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.tls, nil
	}}
	e.srv.StartTLS()
	DeferCleanup(e.srv.Close)
	if host != "" {
		endpointRoutes.Store(net.JoinHostPort(host, "443"), e.addr())
		DeferCleanup(func() { endpointRoutes.Delete(net.JoinHostPort(host, "443")) })
	}
	return e
}

// follow makes the endpoint serve a Secret of the world, lag after each
// change of it, as an ingress controller reloading its certificates does.
func (w *world) follow(host, secret string, lag time.Duration) *callbackEndpoint {
	s := w.tlsSecret(secret)
	e := newEndpoint(host, string(s.Data["tls.crt"]), string(s.Data["tls.key"]))
	stop := make(chan struct{})
	DeferCleanup(func() { close(stop) })
	go func() {
		defer GinkgoRecover()
		seen := string(s.Data["tls.crt"])
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			cur := &corev1.Secret{}
			if k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: secret}, cur) != nil || string(cur.Data["tls.crt"]) == seen {
				continue
			}
			seen = string(cur.Data["tls.crt"])
			crt, key := seen, string(cur.Data["tls.key"])
			time.AfterFunc(lag, func() { e.serve(crt, key) })
		}
	}()
	return e
}

func (w *world) tlsSecret(name string) *corev1.Secret {
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, s)).To(Succeed())
	return s
}
