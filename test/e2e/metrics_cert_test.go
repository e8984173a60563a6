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

package e2e

import (
	"crypto/tls"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// TestMetricsServeTheGivenCertificate: with --metrics-cert-path the metrics
// endpoint presents that certificate, not a self-signed one. Only the TLS
// handshake is looked at; no request is made.
func TestMetricsServeTheGivenCertificate(t *testing.T) {
	dir := t.TempDir()
	crt, key := bunqtest.NewCA("Metrics CA").Leaf("metrics.bunq-pinning-system.svc", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	for name, data := range map[string]string{"tls.crt": crt, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, addr := operatorServing(t, "--metrics-bind-address", "--metrics-cert-path", dir)

	want := bunqtest.ParseCertificatePEM(crt).SerialNumber
	var got *big.Int
	var dialErr error
	if localstack.Poll(200*time.Millisecond, 30*time.Second, func() bool {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only the presented certificate is read
		if dialErr = err; err != nil {
			return false
		}
		got = conn.ConnectionState().PeerCertificates[0].SerialNumber
		_ = conn.Close()
		return true
	}) != nil {
		t.Fatalf("the metrics endpoint did not come up on %s: %v (log %s)", addr, dialErr, s.Log("manager"))
	}
	if got.Cmp(want) != 0 {
		t.Fatalf("the metrics endpoint presents certificate %x, want the given one %x", got, want)
	}
}
