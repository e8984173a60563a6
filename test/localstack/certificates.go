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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// WriteCertificate issues a 90-day leaf for dnsName from ca and writes it as
// cert-manager's CA issuer does: a kubernetes.io/tls Secret with tls.crt,
// tls.key, ca.crt and cert-manager's annotations. It creates the Secret or
// updates it (a renewal), and returns the leaf.
func WriteCertificate(ctx context.Context, c client.Client, ca *bunqtest.CA, namespace, name, dnsName string, create bool) (string, error) {
	crt, _, err := IssueCertificate(ctx, c, ca, namespace, name, dnsName, create)
	return crt, err
}

// IssueCertificate is WriteCertificate also returning the private key, for
// tests that prove it reaches nothing.
func IssueCertificate(ctx context.Context, c client.Client, ca *bunqtest.CA, namespace, name, dnsName string, create bool) (crt, key string, err error) {
	crt, key = ca.Leaf(dnsName, time.Now().Add(-time.Minute), time.Now().Add(90*24*time.Hour))
	return crt, key, PutCertificate(ctx, c, ca, namespace, name, dnsName, crt, key, create)
}

// PutCertificate writes a given certificate into a TLS Secret as cert-manager
// does, such as one wildcard certificate copied into several namespaces.
func PutCertificate(ctx context.Context, c client.Client, ca *bunqtest.CA, namespace, name, dnsName, crt, key string, create bool) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Annotations: map[string]string{
			"cert-manager.io/alt-names":        dnsName,
			"cert-manager.io/certificate-name": name,
			"cert-manager.io/common-name":      dnsName,
			"cert-manager.io/issuer-group":     "cert-manager.io",
			"cert-manager.io/issuer-kind":      "Issuer",
			"cert-manager.io/issuer-name":      "local-ca",
		}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte(crt), "tls.key": []byte(key), "ca.crt": []byte(ca.PEM)},
	}
	if create {
		return c.Create(ctx, secret)
	}
	return c.Update(ctx, secret)
}
