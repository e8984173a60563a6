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
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

var _ = Describe("Every Ready reason", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	// expectReason waits for the reason, then checks the warning event and that
	// bunq was not asked to change anything.
	expectReason := func(obj *bunqv1alpha1.BunqPinnedCertificate, reason string, message ...string) {
		got := waitReason(obj, reason)
		Expect(ready(got).Status).To(Equal(metav1.ConditionFalse))
		Expect(ready(got).ObservedGeneration).To(Equal(got.Generation))
		for _, m := range message {
			Expect(ready(got).Message).To(ContainSubstring(m))
		}
		if !progressing(reason) {
			w.waitEvent(obj, reason)
		}
		Expect(w.writes()).To(BeZero(), "no pin or unpin on bad input or bunq errors")
		Expect(got.Status.PinnedCertificateID).To(BeZero())
	}

	DescribeTable("bad input is reported before bunq is called",
		func(data func(w *world) map[string][]byte, mutate func(*bunqv1alpha1.BunqPinnedCertificateSpec), reason, message string) {
			if d := data(w); d != nil {
				w.secret("hooks-tls", d, corev1.SecretTypeTLS)
			}
			obj := w.resource("hooks", mutate)
			expectReason(obj, reason, message)
			Expect(w.calls()).To(BeZero())
		},
		Entry("missing Secret", func(*world) map[string][]byte { return nil }, nil,
			bunqv1alpha1.ReasonSecretNotFound, "hooks-tls does not exist"),
		Entry("garbage tls.crt", func(*world) map[string][]byte {
			return map[string][]byte{"tls.crt": []byte("garbage"), "tls.key": []byte("k")}
		}, nil, bunqv1alpha1.ReasonInvalidCertificate, "no PEM certificate"),
		Entry("expired leaf", func(w *world) map[string][]byte {
			leaf, key := w.pki.intermediate.Leaf("old.example.com", time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
			return map[string][]byte{"tls.crt": []byte(leaf + w.pki.intermediate.PEM), "tls.key": []byte(key)}
		}, nil, bunqv1alpha1.ReasonCertificateExpired, "expired"),
		Entry("cert-manager's temporary certificate", func(*world) map[string][]byte {
			crt, key := bunqtest.TemporaryCertificate("hooks.example.com")
			return map[string][]byte{"tls.crt": []byte(crt), "tls.key": []byte(key)}
		}, nil, bunqv1alpha1.ReasonTemporaryCertificate, "temporary"),
		Entry("missing API key Secret", func(w *world) map[string][]byte {
			return map[string][]byte{"tls.crt": []byte(w.pki.served("a.example.com")), "tls.key": []byte("k")}
		}, func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef.Name = "nope" },
			bunqv1alpha1.ReasonAPIKeyNotFound, "nope does not exist"),
		Entry("missing key in the API key Secret", func(w *world) map[string][]byte {
			return map[string][]byte{"tls.crt": []byte(w.pki.served("a.example.com")), "tls.key": []byte("k")}
		}, func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef.Key = "token" },
			bunqv1alpha1.ReasonAPIKeyNotFound, "has no key token"),
	)

	It("reports an empty API key", func() {
		w.secret("empty-key", map[string][]byte{"api-key": {}}, corev1.SecretTypeOpaque)
		w.secret("hooks-tls", map[string][]byte{"tls.crt": []byte(w.pki.served("a.example.com")), "tls.key": []byte("k")}, corev1.SecretTypeTLS)
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.APIKeySecretRef.Name = "empty-key" })
		expectReason(obj, bunqv1alpha1.ReasonAPIKeyNotFound, "empty")
	})

	DescribeTable("bunq errors carry bunq's text and response id, and change nothing",
		func(fault bunqtest.Fault, reason string, message ...string) {
			w.emu.Inject(fault)
			w.issue("hooks-tls", "hooks.example.com")
			obj := w.resource("hooks")
			expectReason(obj, reason, message...)
		},
		Entry("unauthorized", bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, Status: 401, Text: bunqtest.TextUnauthorised},
			bunqv1alpha1.ReasonUnauthorized, bunqtest.TextUnauthorised, "response id"),
		Entry("IP not permitted", bunqtest.Fault{Endpoint: bunqtest.EndpointSession, Status: 400, Text: bunqtest.TextCredentialsIncorrect},
			bunqv1alpha1.ReasonIPNotPermitted, bunqtest.TextCredentialsIncorrect, "--permitted-ips"),
		Entry("rate limited", bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, Status: 429, NoSignature: true,
			Text: "Too many requests. You can do a maximum of 3 calls per 3 second to this endpoint."},
			bunqv1alpha1.ReasonRateLimited, "Too many requests", "the current pin stays"),
		Entry("unavailable", bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, Status: 503},
			bunqv1alpha1.ReasonBunqUnavailable, "503", "response id"),
		Entry("other bunq error", bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, Status: 400, Text: "Something odd."},
			bunqv1alpha1.ReasonBunqError, "Something odd.", "response id"),
		Entry("bad server signature", bunqtest.Fault{Method: "GET", Endpoint: bunqtest.EndpointPins, BadSignature: true},
			bunqv1alpha1.ReasonSignatureInvalid, "server signature"),
	)

	It("keeps the working pin when a rotation fails, and rotates once bunq is back", func() {
		first := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		oldID := waitPinned(obj, first).Status.PinnedCertificateID

		w.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Status: 503})
		second := w.issue("hooks-tls", "hooks.example.com")
		got := waitReason(obj, bunqv1alpha1.ReasonBunqUnavailable)
		Expect(got.Status.PinnedCertificateID).To(Equal(oldID))
		Expect(w.pinsOnBunq()).To(Equal(map[int64]string{oldID: chainOf(first).fingerprint}))

		w.emu.ClearFaults()
		got = waitPinned(obj, second)
		Expect(got.Status.Previous).To(ConsistOf(HaveField("ID", oldID)))
		Expect(w.pinsOnBunq()).To(HaveLen(2))
	})
})
