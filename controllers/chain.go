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
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// Limits on what is pinned: a served chain is a handful of certificates.
const (
	maxChainBytes        = 256 << 10
	maxChainCertificates = 10
	// temporaryIssuerCN is the issuer cert-manager gives the placeholder
	// certificate it writes while the real one is being issued.
	temporaryIssuerCN = "cert-manager.local"
)

func invalid(format string, args ...any) *reasonError {
	return &reasonError{reason: bunqv1alpha1.ReasonInvalidCertificate, msg: fmt.Sprintf(format, args...)}
}

// chain is what will be pinned.
type chain struct {
	pems        []string
	certs       []*x509.Certificate
	fingerprint string
}

// chainFromSecret picks the certificates to pin from a TLS Secret's data, as the
// mode says, and checks them. It reads tls.crt and ca.crt only.
func chainFromSecret(data map[string][]byte, mode bunqv1alpha1.ChainMode, now time.Time) (*chain, error) {
	served, err := parseCertificates("tls.crt", data["tls.crt"])
	if err != nil {
		return nil, err
	}
	certs := served
	switch mode {
	case bunqv1alpha1.ChainLeaf:
		certs = served[:1]
	case bunqv1alpha1.ChainServedWithCA:
		if len(data["ca.crt"]) > 0 {
			ca, err := parseCertificates("ca.crt", data["ca.crt"])
			if err != nil {
				return nil, err
			}
			certs = appendNew(served, ca)
		}
	}
	if err := checkChain(certs, now); err != nil {
		return nil, err
	}
	return newChain(certs), nil
}

// parseCertificates reads PEM CERTIFICATE blocks and nothing else.
func parseCertificates(name string, data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("the Secret has no %s or it is empty", name)
	}
	if len(data) > maxChainBytes {
		return nil, invalid("%s is %d bytes; a served chain is at most %d", name, len(data), maxChainBytes)
	}
	certs, rest, err := decodeCertificates(data, maxChainCertificates+1)
	var other otherBlockError
	switch {
	case errors.As(err, &other):
		// Never quote the block: it may be a private key.
		return nil, invalid("%s holds a %q PEM block; only CERTIFICATE blocks can be pinned", name, other.blockType)
	case err != nil:
		return nil, invalid("%s certificate %d does not parse: %v", name, len(certs)+1, err)
	case len(certs) > maxChainCertificates:
		return nil, invalid("%s holds more than %d certificates", name, maxChainCertificates)
	case len(certs) == 0:
		return nil, invalid("%s holds no PEM certificate (DER or other data is not accepted)", name)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, invalid("%s has data after its last PEM certificate", name)
	}
	return certs, nil
}

// appendNew adds the certificates of extra not already in certs.
func appendNew(certs, extra []*x509.Certificate) []*x509.Certificate {
	out := append([]*x509.Certificate(nil), certs...)
	for _, e := range extra {
		dup := false
		for _, c := range out {
			dup = dup || bytes.Equal(c.Raw, e.Raw)
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// checkChain refuses what bunq should not be asked to pin: cert-manager's
// temporary certificate, a CA in the leaf's place, a leaf outside its validity,
// a chain that is not leaf first.
func checkChain(certs []*x509.Certificate, now time.Time) error {
	leaf := certs[0]
	if leaf.Issuer.CommonName == temporaryIssuerCN {
		return &reasonError{reason: bunqv1alpha1.ReasonTemporaryCertificate,
			msg: "tls.crt holds cert-manager's temporary certificate; waiting for the issued one"}
	}
	if leaf.IsCA {
		return invalid("the first certificate of tls.crt (%s) is a CA; tls.crt must start with the server's own certificate", leaf.Subject)
	}
	if now.After(leaf.NotAfter) {
		return &reasonError{reason: bunqv1alpha1.ReasonCertificateExpired,
			msg: fmt.Sprintf("the certificate for %s expired at %s; renew it (cmctl renew) and it is pinned at once",
				leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	if now.Before(leaf.NotBefore) {
		return &reasonError{reason: bunqv1alpha1.ReasonInvalidCertificate, retryAt: leaf.NotBefore,
			msg: fmt.Sprintf("the certificate for %s is not valid before %s", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	for i := 0; i+1 < len(certs); i++ {
		if !bytes.Equal(certs[i].RawIssuer, certs[i+1].RawSubject) {
			return invalid("certificate %d (%s) was not issued by certificate %d (%s); the chain must be in order, leaf first",
				i+1, certs[i].Subject, i+2, certs[i+1].Subject)
		}
	}
	return nil
}

func newChain(certs []*x509.Certificate) *chain {
	c := &chain{certs: certs, fingerprint: fingerprint(certs)}
	for _, cert := range certs {
		c.pems = append(c.pems, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	}
	return c
}

// fingerprint is sha256 over the concatenated DER of the chain.
func fingerprint(certs []*x509.Certificate) string {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// pinnedFingerprint fingerprints a chain as bunq returns it; "" when it does not parse.
func pinnedFingerprint(glued string) string {
	certs, _, err := decodeCertificates([]byte(glued), 0)
	if err != nil || len(certs) == 0 {
		return ""
	}
	return fingerprint(certs)
}

// otherBlockError names the type of a PEM block that is not a certificate,
// never its content (it may be a private key).
type otherBlockError struct{ blockType string }

func (e otherBlockError) Error() string { return "a " + e.blockType + " PEM block" }

// decodeCertificates parses the PEM CERTIFICATE blocks of data, up to limit
// of them (0: no limit), and returns what follows the last one. It stops at a
// block of another type or one that does not parse.
func decodeCertificates(data []byte, limit int) (certs []*x509.Certificate, rest []byte, err error) {
	rest = data
	for limit == 0 || len(certs) < limit {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return certs, rest, otherBlockError{block.Type}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return certs, rest, err
		}
		certs = append(certs, cert)
		rest = next
	}
	return certs, rest, nil
}

func (c *chain) info() *bunqv1alpha1.CertificateInfo {
	leaf := c.certs[0]
	return &bunqv1alpha1.CertificateInfo{
		Subject:      leaf.Subject.String(),
		Issuer:       leaf.Issuer.String(),
		SerialNumber: leaf.SerialNumber.Text(16),
		NotBefore:    metav1.NewTime(leaf.NotBefore.UTC()),
		NotAfter:     metav1.NewTime(leaf.NotAfter.UTC()),
		DNSNames:     leaf.DNSNames,
		ChainLength:  int32(len(c.certs)),
		Fingerprint:  leafFingerprint(leaf),
	}
}
