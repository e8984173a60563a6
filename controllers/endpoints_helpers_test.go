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
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// Callback endpoints for the specs: real TLS servers on loopback
// (localstack.Ingress) that serve a Secret's chain as an ingress controller
// does, following it after a lag.

// endpointRoutes maps a callback's host:port to the loopback address of the
// spec's server, as DNS would; testDial is the reconciler's dialer.
var endpointRoutes sync.Map

func testDial(ctx context.Context, network, address string) (net.Conn, error) {
	if to, ok := endpointRoutes.Load(address); ok {
		address = to.(string)
	}
	return (&net.Dialer{}).DialContext(ctx, network, address)
}

// routeHost makes host:443 reach the ingress.
func routeHost(host string, in *localstack.Ingress) {
	if host == "" {
		return
	}
	at := net.JoinHostPort(host, "443")
	endpointRoutes.Store(at, in.Addr())
	DeferCleanup(func() { endpointRoutes.Delete(at) })
}

// newEndpoint serves crt, reachable as host:443 through testDial.
func newEndpoint(host, crt, key string) *localstack.Ingress {
	in, err := localstack.NewIngress(crt, key)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(in.Close)
	routeHost(host, in)
	return in
}

// follow serves a Secret of the world, lag after each change of it.
func (w *world) follow(host, secret string, lag time.Duration) *localstack.Ingress {
	in, err := localstack.FollowSecret(ctx, k8sClient, client.ObjectKey{Namespace: w.ns, Name: secret}, lag)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(in.Close)
	routeHost(host, in)
	return in
}

func (w *world) tlsSecret(name string) *corev1.Secret {
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, s)).To(Succeed())
	return s
}
