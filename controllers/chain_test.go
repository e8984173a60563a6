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
	"encoding/pem"
	"strings"
	"testing"
	"time"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// testPKI is a root, an intermediate and helpers to issue leaves from it.
type testPKI struct {
	root, intermediate *bunqtest.CA
}

func newTestPKI() *testPKI {
	root := bunqtest.NewCA("Test Root")
	return &testPKI{root: root, intermediate: root.Intermediate("Test Intermediate")}
}

// served returns tls.crt as cert-manager writes it: leaf, then intermediate.
func (p *testPKI) served(dnsName string) string {
	leaf, _ := p.intermediate.Leaf(dnsName, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	return leaf + p.intermediate.PEM
}

func derOf(pemText string) []byte {
	block, _ := pem.Decode([]byte(pemText))
	return block.Bytes
}

func TestChainFromSecret(t *testing.T) {
	t.Parallel()
	pki := newTestPKI()
	now := time.Now()
	leaf, key := pki.intermediate.Leaf("hooks.example.com", now.Add(-time.Hour), now.Add(time.Hour))
	expired, _ := pki.intermediate.Leaf("old.example.com", now.Add(-48*time.Hour), now.Add(-time.Hour))
	future, _ := pki.intermediate.Leaf("new.example.com", now.Add(time.Hour), now.Add(48*time.Hour))
	temporary, _ := bunqtest.TemporaryCertificate("hooks.example.com")
	many := strings.Repeat(pki.root.PEM, maxChainCertificates+1)

	cases := []struct {
		name   string
		data   map[string][]byte
		mode   bunqv1alpha1.ChainMode
		reason string // "" when the chain is accepted
		length int
	}{
		{"served chain", map[string][]byte{"tls.crt": []byte(leaf + pki.intermediate.PEM)}, bunqv1alpha1.ChainServed, "", 2},
		{"default mode is served", map[string][]byte{"tls.crt": []byte(leaf + pki.intermediate.PEM)}, "", "", 2},
		{"leaf only", map[string][]byte{"tls.crt": []byte(leaf + pki.intermediate.PEM)}, bunqv1alpha1.ChainLeaf, "", 1},
		{"served with CA", map[string][]byte{"tls.crt": []byte(leaf + pki.intermediate.PEM), "ca.crt": []byte(pki.root.PEM)}, bunqv1alpha1.ChainServedWithCA, "", 3},
		{"served with CA, CA already served", map[string][]byte{"tls.crt": []byte(leaf + pki.intermediate.PEM), "ca.crt": []byte(pki.intermediate.PEM)}, bunqv1alpha1.ChainServedWithCA, "", 2},
		{"served with CA, no ca.crt", map[string][]byte{"tls.crt": []byte(leaf)}, bunqv1alpha1.ChainServedWithCA, "", 1},
		{"CRLF line ends", map[string][]byte{"tls.crt": []byte(strings.ReplaceAll(leaf, "\n", "\r\n"))}, "", "", 1},
		{"no tls.crt", map[string][]byte{"tls.key": []byte(key)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"empty tls.crt", map[string][]byte{"tls.crt": []byte("\n")}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"garbage", map[string][]byte{"tls.crt": []byte("hello world")}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"DER instead of PEM", map[string][]byte{"tls.crt": derOf(leaf)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"private key inside tls.crt", map[string][]byte{"tls.crt": []byte(leaf + key)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"trailing junk", map[string][]byte{"tls.crt": []byte(leaf + "junk")}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"only a CA", map[string][]byte{"tls.crt": []byte(pki.intermediate.PEM)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"out of order", map[string][]byte{"tls.crt": []byte(pki.intermediate.PEM + leaf)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"wrong intermediate", map[string][]byte{"tls.crt": []byte(leaf + pki.root.PEM)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"too many certificates", map[string][]byte{"tls.crt": []byte(leaf + many)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"too large", map[string][]byte{"tls.crt": []byte(leaf + strings.Repeat("\n", maxChainBytes))}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"bad ca.crt", map[string][]byte{"tls.crt": []byte(leaf), "ca.crt": []byte("nope")}, bunqv1alpha1.ChainServedWithCA, bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"expired leaf", map[string][]byte{"tls.crt": []byte(expired + pki.intermediate.PEM)}, "", bunqv1alpha1.ReasonCertificateExpired, 0},
		{"leaf not yet valid", map[string][]byte{"tls.crt": []byte(future + pki.intermediate.PEM)}, "", bunqv1alpha1.ReasonInvalidCertificate, 0},
		{"cert-manager temporary certificate", map[string][]byte{"tls.crt": []byte(temporary)}, "", bunqv1alpha1.ReasonTemporaryCertificate, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := chainFromSecret(c.data, c.mode, now)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if len(got.pems) != c.length || len(got.certs) != c.length {
					t.Fatalf("chain of %d, want %d", len(got.pems), c.length)
				}
				return
			}
			ce, ok := err.(*reasonError)
			if !ok || ce.reason != c.reason {
				t.Fatalf("got %v, want reason %s", err, c.reason)
			}
			if strings.Contains(ce.msg, "PRIVATE KEY-----") || strings.Contains(ce.msg, strings.TrimSpace(strings.Split(key, "\n")[1])) {
				t.Errorf("message quotes the key: %s", ce.msg)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	pki := newTestPKI()
	served := pki.served("hooks.example.com")
	c, err := chainFromSecret(map[string][]byte{"tls.crt": []byte(served)}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.fingerprint, "sha256:") || len(c.fingerprint) != len("sha256:")+64 {
		t.Fatalf("fingerprint %q", c.fingerprint)
	}
	// bunq returns the chain glued with newlines: same certificates, same fingerprint.
	if got := pinnedFingerprint(strings.Join(c.pems, "\n")); got != c.fingerprint {
		t.Errorf("fingerprint of the pinned form %s, want %s", got, c.fingerprint)
	}
	leafOnly, _ := chainFromSecret(map[string][]byte{"tls.crt": []byte(served)}, bunqv1alpha1.ChainLeaf, time.Now())
	if leafOnly.fingerprint == c.fingerprint {
		t.Error("a leaf and its chain share a fingerprint")
	}
	renewed, _ := chainFromSecret(map[string][]byte{"tls.crt": []byte(pki.served("hooks.example.com"))}, "", time.Now())
	if renewed.fingerprint == c.fingerprint {
		t.Error("a renewed certificate has the old fingerprint")
	}
	if pinnedFingerprint("not pem") != "" {
		t.Error("garbage has a fingerprint")
	}
	info := c.info()
	if info.ChainLength != 2 || info.DNSNames[0] != "hooks.example.com" || info.SerialNumber == "" ||
		!strings.Contains(info.Issuer, "Test Intermediate") {
		t.Errorf("info %+v", info)
	}
}

// FuzzChainFromSecret feeds arbitrary tls.crt and ca.crt to the parser: it must
// not panic, must fingerprint what it accepts the way bunq's glued form reads
// back, and must never echo the input (it may hold a private key) in an error.
func FuzzChainFromSecret(f *testing.F) {
	pki := newTestPKI()
	served := pki.served("hooks.example.com")
	leaf, key := pki.intermediate.Leaf("x.example.com", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	f.Add([]byte(served), []byte(pki.root.PEM))
	f.Add([]byte(leaf+key), []byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte("garbage"))
	f.Add(derOf(leaf), []byte(nil))
	f.Fuzz(func(t *testing.T, crt, ca []byte) {
		for _, mode := range []bunqv1alpha1.ChainMode{bunqv1alpha1.ChainServed, bunqv1alpha1.ChainLeaf, bunqv1alpha1.ChainServedWithCA} {
			c, err := chainFromSecret(map[string][]byte{"tls.crt": crt, "ca.crt": ca}, mode, time.Now())
			if err != nil {
				ce, ok := err.(*reasonError)
				if !ok || ce.reason == "" {
					t.Fatalf("error %v is not a reasonError with a reason", err)
				}
				for _, line := range strings.Split(string(crt)+"\n"+string(ca), "\n") {
					if line = strings.TrimSpace(line); len(line) >= 40 && strings.Contains(ce.msg, line) {
						t.Fatalf("message %q echoes input line %q", ce.msg, line)
					}
				}
				continue
			}
			if len(c.pems) == 0 || len(c.pems) != len(c.certs) {
				t.Fatalf("accepted a chain of %d PEMs and %d certificates", len(c.pems), len(c.certs))
			}
			if got := pinnedFingerprint(strings.Join(c.pems, "\n")); got != c.fingerprint {
				t.Fatalf("fingerprint %s, read back as %s", c.fingerprint, got)
			}
		}
	})
}
