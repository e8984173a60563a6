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
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// The bad input a running operator meets: a resource is pinned and working,
// then its Secret, its API key or bunq goes wrong. Each case must give its own
// Ready reason and an event, change nothing on bunq, and keep the working pin.
var _ = Describe("Bad input on a working resource", func() {
	tlsData := func(crt string) map[string][]byte {
		return map[string][]byte{"tls.crt": []byte(crt), "tls.key": []byte("not read")}
	}
	leafPEM := func(w *world, notBefore, notAfter time.Time) string {
		leaf, _ := w.pki.intermediate.Leaf("hooks.example.com", notBefore, notAfter)
		return leaf
	}
	// The reconciler's clock runs ahead once other specs have advanced it.
	now := testNow
	const day = 24 * time.Hour

	DescribeTable("gives its reason and an event, makes no bunq write and keeps the pin",
		func(spoil func(w *world), reason, message string) {
			w := newWorld()
			first := w.issue("hooks-tls", "hooks.example.com")
			obj := w.resource("hooks")
			pinned := waitPinned(obj, first)
			writes := w.emu.Writes()

			spoil(w)
			got := waitReason(obj, reason)
			Expect(ready(got).Message).To(ContainSubstring(message))
			w.waitEvent(obj, reason)
			Expect(got.Status.PinnedCertificateID).To(Equal(pinned.Status.PinnedCertificateID), "the working pin stays recorded")
			Expect(got.Status.Fingerprint).To(Equal(pinned.Status.Fingerprint))
			Consistently(w.emu.Writes).WithTimeout(300*time.Millisecond).Should(Equal(writes), "no pin or unpin")
			Expect(w.pinsOnBunq()).To(Equal(map[int64]string{pinned.Status.PinnedCertificateID: pinned.Status.Fingerprint}))
		},
		Entry("missing Secret", func(w *world) { w.deleteSecret("hooks-tls") },
			bunqv1alpha1.ReasonSecretNotFound, "hooks-tls does not exist"),
		Entry("Secret without tls.crt", func(w *world) {
			// A kubernetes.io/tls Secret must hold tls.crt: this is a generic one of the same name.
			w.deleteSecret("hooks-tls")
			w.secret("hooks-tls", map[string][]byte{"ca.crt": []byte(w.pki.root.PEM)}, corev1.SecretTypeOpaque)
		},
			bunqv1alpha1.ReasonInvalidCertificate, "has no tls.crt"),
		Entry("empty tls.crt", func(w *world) { w.setData("hooks-tls", tlsData("")) },
			bunqv1alpha1.ReasonInvalidCertificate, "has no tls.crt or it is empty"),
		Entry("garbage", func(w *world) { w.setData("hooks-tls", tlsData("\x00\xffgarbage")) },
			bunqv1alpha1.ReasonInvalidCertificate, "no PEM certificate"),
		Entry("DER instead of PEM", func(w *world) {
			w.setData("hooks-tls", tlsData(string(derOf(leafPEM(w, now().Add(-time.Hour), now().Add(90*day))))))
		}, bunqv1alpha1.ReasonInvalidCertificate, "DER"),
		Entry("a private key inside tls.crt", func(w *world) {
			leaf, key := w.pki.intermediate.Leaf("hooks.example.com", now().Add(-time.Hour), now().Add(90*day))
			w.keys = append(w.keys, key)
			w.setData("hooks-tls", tlsData(leaf+key))
		}, bunqv1alpha1.ReasonInvalidCertificate, "PRIVATE KEY\" PEM block"),
		Entry("only a CA", func(w *world) { w.setData("hooks-tls", tlsData(w.pki.intermediate.PEM)) },
			bunqv1alpha1.ReasonInvalidCertificate, "is a CA"),
		Entry("an expired leaf", func(w *world) {
			w.setData("hooks-tls", tlsData(leafPEM(w, now().Add(-3*day), now().Add(-day))+w.pki.intermediate.PEM))
		}, bunqv1alpha1.ReasonCertificateExpired, "expired"),
		Entry("a leaf not yet valid", func(w *world) {
			w.setData("hooks-tls", tlsData(leafPEM(w, now().Add(day), now().Add(3*day))+w.pki.intermediate.PEM))
		}, bunqv1alpha1.ReasonInvalidCertificate, "not valid before"),
		Entry("cert-manager's temporary certificate", func(w *world) {
			crt, key := bunqtest.TemporaryCertificate("hooks.example.com")
			w.keys = append(w.keys, key)
			w.setData("hooks-tls", tlsData(crt))
		}, bunqv1alpha1.ReasonTemporaryCertificate, "temporary"),
		Entry("chain out of order", func(w *world) {
			w.setData("hooks-tls", tlsData(leafPEM(w, now().Add(-time.Hour), now().Add(90*day))+w.pki.root.PEM+w.pki.intermediate.PEM))
		}, bunqv1alpha1.ReasonInvalidCertificate, "must be in order"),
		Entry("100 certificates", func(w *world) {
			w.setData("hooks-tls", tlsData(leafPEM(w, now().Add(-time.Hour), now().Add(90*day))+strings.Repeat(w.pki.intermediate.PEM, 99)))
		}, bunqv1alpha1.ReasonInvalidCertificate, "more than 10 certificates"),
		Entry("a 1 MiB tls.crt", func(w *world) {
			// As big as a Secret may be: 1 MiB with the key.
			big := bytes.Repeat([]byte(w.pki.intermediate.PEM), 1<<20/len(w.pki.intermediate.PEM)+1)[:1<<20-1]
			w.setData("hooks-tls", map[string][]byte{"tls.crt": big, "tls.key": []byte("k")})
		}, bunqv1alpha1.ReasonInvalidCertificate, "is 1048575 bytes"),
		Entry("API key Secret missing", func(w *world) { w.deleteSecret("bunq-api-key") },
			bunqv1alpha1.ReasonAPIKeyNotFound, "bunq-api-key does not exist"),
		Entry("API key missing from its Secret", func(w *world) {
			w.setData("bunq-api-key", map[string][]byte{"token": []byte(w.apiKey)})
		}, bunqv1alpha1.ReasonAPIKeyNotFound, "has no key api-key"),
		Entry("empty API key", func(w *world) { w.setData("bunq-api-key", map[string][]byte{"api-key": {}}) },
			bunqv1alpha1.ReasonAPIKeyNotFound, "or it is empty"),
		Entry("a wrong API key", func(w *world) {
			wrong := "sandbox_wrong" + strings.TrimPrefix(w.apiKey, "sandbox_")
			bunqURLs.Store(wrong, w.url)
			w.setData("bunq-api-key", map[string][]byte{"api-key": []byte(wrong)})
		}, bunqv1alpha1.ReasonIPNotPermitted, "check that the API key is right"),
		Entry("bunq answering a renewal with a proxy's HTML 502", func(w *world) {
			w.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Status: http.StatusBadGateway,
				Body: "<html><body><h1>502 Bad Gateway</h1></body></html>", ContentType: "text/html"})
			w.issue("hooks-tls", "hooks.example.com")
		}, bunqv1alpha1.ReasonBunqUnavailable, "502 Bad Gateway"),
		Entry("a wrong server signature on a renewal", func(w *world) {
			// The session has lapsed; the new one comes back signed by someone else.
			w.emu.ExpireSessions()
			w.emu.Inject(bunqtest.Fault{Endpoint: bunqtest.EndpointSession, BadSignature: true})
			w.issue("hooks-tls", "hooks.example.com")
		}, bunqv1alpha1.ReasonSignatureInvalid, "server signature"),
	)

	It("pins on the new user's account when the API key changes to another user", func() {
		w, other := newWorld(), newWorld()
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		old := waitPinned(obj, crt)
		Expect(other.emu.UserID(other.apiKey)).NotTo(Equal(old.Status.UserID))

		w.setData("bunq-api-key", map[string][]byte{"api-key": []byte(other.apiKey)})
		Eventually(func() int64 { return get(obj).Status.UserID }).WithTimeout(15 * time.Second).
			Should(Equal(other.emu.UserID(other.apiKey)))
		got := waitPinned(obj, crt)
		Expect(other.pinsOnBunq()).To(Equal(map[int64]string{got.Status.PinnedCertificateID: got.Status.Fingerprint}))
		Expect(got.Status.Previous).To(BeEmpty(), "the old user's pin cannot be unpinned with the new key")
		Expect(w.pinsOnBunq()).To(HaveKey(old.Status.PinnedCertificateID), "it stays where it was")
		w.waitEvent(obj, "UserChanged")
	})

	It("never quotes a private key found in tls.crt", func() {
		w := newWorld()
		leaf, key := w.pki.intermediate.Leaf("hooks.example.com", now().Add(-time.Hour), now().Add(90*day))
		w.keys = append(w.keys, key)
		w.secret("hooks-tls", tlsData(key+leaf), corev1.SecretTypeTLS)
		obj := w.resource("hooks")
		got := waitReason(obj, bunqv1alpha1.ReasonInvalidCertificate)
		w.waitEvent(obj, bunqv1alpha1.ReasonInvalidCertificate)
		said := ready(got).Message + strings.Join(w.events(obj), "\n")
		for _, line := range strings.Split(key, "\n")[1:3] {
			Expect(said).NotTo(ContainSubstring(line))
		}
	})
})

func (w *world) deleteSecret(name string) {
	s := &corev1.Secret{}
	s.Name, s.Namespace = name, w.ns
	Expect(k8sClient.Delete(ctx, s)).To(Succeed())
}
