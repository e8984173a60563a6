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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// What one tenant can make the operator hold, for itself and for everyone.
var _ = Describe("Bounded memory and status", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("keeps at most 10 previous chains, retiring the oldest first", func() {
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.RetainPreviousFor = &metav1.Duration{Duration: 24 * time.Hour}
		})
		var ids []int64
		for range 14 {
			ids = append(ids, waitPinned(obj, w.issue("hooks-tls", "hooks.example.com")).Status.PinnedCertificateID)
		}
		got := get(obj)
		Expect(got.Status.Previous).To(HaveLen(bunqv1alpha1.MaxPrevious))
		Expect(got.Status.Previous[0].ID).To(Equal(ids[3]), "the oldest went first")
		Eventually(w.pinsOnBunq).Should(HaveLen(bunqv1alpha1.MaxPrevious + 1))
		for _, id := range ids[:3] {
			Expect(w.pinsOnBunq()).NotTo(HaveKey(id))
		}
	})

	It("truncates a message longer than a condition or an event allows", func() {
		w.issue("hooks-tls", "hooks.example.com")
		long := strings.Repeat("a very long complaint ", 2000) // 44 KB, within the 64 KiB read of an error body
		w.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Status: http.StatusBadRequest,
			Body: `{"Error":[{"error_description":"` + long + `"}]}`, ContentType: "application/json"})
		obj := w.resource("hooks")
		got := waitReason(obj, bunqv1alpha1.ReasonBunqError)
		Expect(len(ready(got).Message)).To(BeNumerically("<=", maxConditionMessage))
		Expect(ready(got).Message).To(HaveSuffix("(truncated)"))
		w.waitEvent(obj, bunqv1alpha1.ReasonBunqError)
	})

	It("never drops another controller's finalizer when adding its own", func() {
		w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks", func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.Suspend = true })
		waitReason(obj, bunqv1alpha1.ReasonSuspended)
		stale := get(obj)
		stale.Finalizers = nil // as read before our own finalizer went on

		cur := get(obj)
		cur.Finalizers = append(cur.Finalizers, "example.com/other")
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())

		r := &BunqPinnedCertificateReconciler{Client: k8sClient}
		_, err := r.ensureFinalizer(ctx, stale)
		Expect(err).To(MatchError(errConflict), "a stale read must not overwrite the list")
		Expect(get(obj).Finalizers).To(ContainElements(Finalizer, "example.com/other"))
		cur = get(obj)
		cur.Finalizers = []string{Finalizer}
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
	})

	It("does not keep a TLS Secret value over the size that can be pinned", func() {
		big := bytes.Repeat([]byte(w.pki.intermediate.PEM), 1<<20/len(w.pki.intermediate.PEM))
		w.secret("huge-tls", map[string][]byte{"tls.crt": big, "tls.key": []byte("k")}, corev1.SecretTypeOpaque)
		r := &secretReader{cache: k8sClient, live: k8sClient}
		key := types.NamespacedName{Namespace: w.ns, Name: "huge-tls"}
		_, found, err := r.read(ctx, key, maxChainBytes, "tls.crt", "ca.crt")
		Expect(found).To(BeTrue())
		var tl *tooLargeError
		Expect(err).To(BeAssignableToTypeOf(tl))
		Expect(r.seen[key].data).NotTo(HaveKey("tls.crt"), "the value is measured, not kept")
		Expect(r.seen[key].sizes["tls.crt"]).To(Equal(len(big)))
	})

	It("forgets the Secrets and API contexts no resource uses any more", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		first := contextSecretName(bunqv1alpha1.EnvironmentSandbox, w.apiKey)
		for range 5 {
			key := w.newKey()
			w.setData("bunq-api-key", map[string][]byte{"api-key": []byte(key)})
			Eventually(func() int64 { return get(obj).Status.UserID }).Should(Equal(w.emu.UserID(key)))
		}
		Expect(testReconciler.accounts.has(first)).To(BeFalse(), "the first key's context is dropped once unused")
		Expect(testReconciler.accounts.usedBy(obj.UID)).To(HaveLen(1), "one account for the one key in use")

		tlsKey := types.NamespacedName{Namespace: w.ns, Name: "hooks-tls"}
		Expect(testReconciler.secrets.keys(w.ns)).To(ContainElement(tlsKey))
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)) }).Should(BeTrue())
		Eventually(func() []types.NamespacedName { return testReconciler.secrets.keys(w.ns) }).Should(BeEmpty())
		Expect(testReconciler.accounts.usedBy(obj.UID)).To(BeEmpty())
	})
})

// design.md Behaviour 8: a Secret that flips again and again takes its turn.
var _ = Describe("Fairness under the rate limit", func() {
	It("pins another namespace's renewal within 2 s while one resource flips its Secret every 500 ms", func() {
		w := newWorld()
		other := w.sibling()
		limited(1, w.apiKey)
		flipper := w.resource("flip")
		waitPinned(flipper, w.issue("flip-tls", "flip.example.com"))
		crt := other.issue("hooks-tls", "hooks.example.com")
		obj := other.resource("hooks")
		waitPinned(obj, crt)

		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Millisecond):
					w.issue("flip-tls", "flip.example.com")
				}
			}
		}()
		DeferCleanup(func() { close(stop); <-done })
		time.Sleep(2 * time.Second) // the flipping is well under way
		renewed := other.issue("hooks-tls", "hooks.example.com")
		Eventually(func() string { return get(obj).Status.Fingerprint }).WithTimeout(2 * time.Second).
			WithPolling(20 * time.Millisecond).Should(Equal(chainOf(renewed).fingerprint))
	})
})
