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

package bunqtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"
)

// CertificatePEM makes a self-signed certificate for cn, valid for a day, as PEM.
// Tests pin these; the emulator only needs them to be well-formed.
func CertificatePEM(cn string) string {
	ca := NewCA(cn)
	return ca.PEM
}

// CA is a certificate authority for tests: a root, or an intermediate of one.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  string
}

// NewCA makes a self-signed root CA valid for a year.
func NewCA(cn string) *CA {
	return issue(nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
	})
}

// Intermediate makes a CA signed by ca.
func (ca *CA) Intermediate(cn string) *CA {
	return issue(ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
	})
}

// Leaf issues a server certificate for dnsName, valid between the given times,
// and returns it with its private key, both PEM.
func (ca *CA) Leaf(dnsName string, notBefore, notAfter time.Time) (certPEM, keyPEM string) {
	leaf := issue(ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   notBefore, NotAfter: notAfter,
	})
	der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if err != nil {
		panic(err)
	}
	return leaf.PEM, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TemporaryCertificate imitates the placeholder cert-manager writes while it
// issues: signed by a throwaway CA named cert-manager.local.
func TemporaryCertificate(dnsName string) (certPEM, keyPEM string) {
	return NewCA("cert-manager.local").Leaf(dnsName, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
}

func issue(parent *CA, tmpl *x509.Certificate) *CA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &CA{Cert: cert, Key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// ParseCertificatePEM reads the first certificate of a PEM text; nil when there is none.
func ParseCertificatePEM(s string) *x509.Certificate {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return c
}
