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
	"net"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// Endpoint verification (design.md Behaviour 11 and 12): what the callback
// URLs serve, and retirement that waits for the switch.
var _ = Describe("Endpoint verification", func() {
	var w *world
	var host string
	BeforeEach(func() {
		w = newWorld()
		host = "hooks." + w.ns + ".example.com"
	})

	servedOf := func(obj *bunqv1alpha1.BunqPinnedCertificate) *metav1.Condition {
		return meta.FindStatusCondition(obj.Status.Conditions, bunqv1alpha1.ConditionServed)
	}
	waitServed := func(obj *bunqv1alpha1.BunqPinnedCertificate, reason string) *bunqv1alpha1.BunqPinnedCertificate {
		var got *bunqv1alpha1.BunqPinnedCertificate
		EventuallyWithOffset(1, func(g Gomega) {
			got = get(obj)
			c := servedOf(got)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(reason), "message: %s", c.Message)
		}).WithTimeout(15 * time.Second).Should(Succeed())
		return got
	}
	withEndpoint := func(url, address string) func(*bunqv1alpha1.BunqPinnedCertificateSpec) {
		return func(s *bunqv1alpha1.BunqPinnedCertificateSpec) {
			s.Endpoints = append(s.Endpoints, bunqv1alpha1.Endpoint{URL: url, Address: address})
		}
	}
	retain := func(d time.Duration) func(*bunqv1alpha1.BunqPinnedCertificateSpec) {
		return func(s *bunqv1alpha1.BunqPinnedCertificateSpec) { s.RetainPreviousFor = &metav1.Duration{Duration: d} }
	}
	foreign := func(name string) (string, string) {
		pki := newTestPKI()
		leaf, key := pki.intermediate.Leaf(name, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
		return leaf + pki.intermediate.PEM, key
	}
	onBunq := func(id int64) bool { _, ok := w.pinsOnBunq()[id]; return ok }

	It("finds the user's callback URLs whose host matches the leaf, wildcards included, with one set of GETs per key", func() {
		zone := w.ns + ".example.com"
		accounts := w.emu.MonetaryAccounts(w.apiKey)
		w.emu.SetNotificationFilters(w.apiKey, 0,
			bunqtest.NotificationFilter{Category: "MUTATION", Target: "https://hooks." + zone + "/bunq"},
			bunqtest.NotificationFilter{Category: "PAYMENT", Target: "https://elsewhere.example.org/bunq"})
		w.emu.SetNotificationFilters(w.apiKey, accounts[0],
			bunqtest.NotificationFilter{Category: "MUTATION", Target: "https://pay." + zone + "/cb"},
			bunqtest.NotificationFilter{Category: "PAYMENT", Target: "https://deep.pay." + zone + "/cb"})
		crt := w.issue("hooks-tls", "*."+zone)
		hooks := w.follow("hooks."+zone, "hooks-tls", 0)
		w.follow("pay."+zone, "hooks-tls", 0)
		obj := w.resource("hooks")
		w.issue("api-tls", "api.example.net")
		unmatched := w.resource("api")

		waitPinned(obj, crt)
		got := waitServed(obj, bunqv1alpha1.ReasonEndpointsServePinnedChain)
		var urls []string
		for _, e := range got.Status.Endpoints {
			urls = append(urls, e.URL)
			Expect(e.Source).To(Equal(bunqv1alpha1.EndpointSourceBunq))
			Expect(e.Pinned).To(BeTrue(), "%s", e.URL)
			Expect(e.ServedFingerprint).To(Equal(got.Status.Certificate.Fingerprint))
			Expect(e.ServedLeafSerial).To(Equal(got.Status.Certificate.SerialNumber))
			Expect(e.Error).To(BeEmpty())
		}
		Expect(urls).To(Equal([]string{"https://hooks." + zone + "/bunq", "https://pay." + zone + "/cb"}))
		for _, h := range []string{"hooks." + zone, "pay." + zone} {
			v, ok := seriesWith(endpointPinned, map[string]string{"namespace": w.ns, "name": "hooks", "host": h})
			Expect(ok && v == 1).To(BeTrue(), "bunq_pinning_endpoint_pinned for %s: %v %v", h, v, ok)
		}

		Expect(hooks.Requests()).To(BeZero(), "the check is a TLS handshake; no HTTP request is sent")
		waitServed(unmatched, bunqv1alpha1.ReasonNoEndpoints)
		Expect(w.emu.Count(http.MethodGet, bunqtest.EndpointUserFilters)).To(Equal(1), "one read shared by the key's resources")
		Expect(w.emu.Count(http.MethodGet, bunqtest.EndpointAccounts)).To(Equal(1))
		Expect(w.emu.Count(http.MethodGet, bunqtest.EndpointAccountFilters)).To(Equal(1))
	})

	It("keeps the old pin while the endpoint lags 20s behind a renewal, and retires it once it switches", func() {
		w.issue("hooks-tls", host)
		ep := w.follow("", "hooks-tls", 20*time.Second)
		// Dialled at address: the URL's host does not resolve.
		obj := w.resource("hooks", retain(5*time.Second), withEndpoint("https://"+host+"/bunq", ep.Addr()))
		waitServed(obj, bunqv1alpha1.ReasonEndpointsServePinnedChain)
		old := get(obj).Status
		Expect(old.Endpoints[0].Source).To(Equal(bunqv1alpha1.EndpointSourceSpec))

		renewed := time.Now()
		crt2 := w.issue("hooks-tls", host)
		waitPinned(obj, crt2)
		// At every moment the endpoint serves the old leaf, the old pin is on bunq.
		for ep.Serving() != crt2 {
			Expect(time.Since(renewed)).To(BeNumerically("<", 30*time.Second), "the endpoint never switched")
			Expect(onBunq(old.PinnedCertificateID)).To(BeTrue(),
				"pin %d retired %s after the renewal while the endpoint still serves it", old.PinnedCertificateID, time.Since(renewed))
			if c := servedOf(get(obj)); c != nil && c.Reason != bunqv1alpha1.ReasonEndpointsServePinnedChain {
				Fail("Served is " + c.Reason + " while the endpoint serves the still pinned previous chain: " + c.Message)
			}
			time.Sleep(100 * time.Millisecond)
		}
		Eventually(func() bool { return onBunq(old.PinnedCertificateID) }).WithTimeout(15 * time.Second).Should(BeFalse())
		Expect(time.Since(renewed)).To(BeNumerically(">=", 20*time.Second))
		// The status lets go of the id right after bunq does.
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(obj).Status.Previous }).Should(BeEmpty())
		w.waitEvent(obj, "EndpointSwitched")
		Expect(w.events(obj)).To(ContainElement(ContainSubstring(host + " now serves the new certificate; retiring the old pin")))
	})

	It("keeps the old pin for an endpoint that never switches until 24h after the rotation, then warns", func() {
		crt1 := w.issue("hooks-tls", host)
		key1 := string(w.tlsSecret("hooks-tls").Data["tls.key"])
		ep := newEndpoint("", crt1, key1) // an Ingress that names another Secret
		obj := w.resource("hooks", retain(0), withEndpoint("https://"+host+"/bunq", ep.Addr()))
		waitServed(obj, bunqv1alpha1.ReasonEndpointsServePinnedChain)
		old := get(obj).Status.PinnedCertificateID

		crt2 := w.issue("hooks-tls", host)
		waitPinned(obj, crt2)
		Consistently(func() bool { return onBunq(old) }).WithTimeout(2 * time.Second).Should(BeTrue())
		Expect(get(obj).Status.Previous).To(HaveLen(1))

		advanceClock(maxServedWait + time.Minute)
		poke(obj)
		Eventually(func() bool { return onBunq(old) }).Should(BeFalse())
		w.waitEvent(obj, "EndpointNotSwitched")
		got := waitServed(obj, bunqv1alpha1.ReasonEndpointNotPinned)
		Expect(got.Status.Previous).To(BeEmpty())
		Expect(servedOf(got).Status).To(Equal(metav1.ConditionFalse))
	})

	It("reports an endpoint serving a foreign certificate as EndpointNotPinned, with a warning and the metric at 0", func() {
		w.emu.SetNotificationFilters(w.apiKey, 0, bunqtest.NotificationFilter{Category: "MUTATION", Target: "https://" + host + "/bunq"})
		crt := w.issue("hooks-tls", host)
		other, otherKey := foreign(host)
		newEndpoint(host, other, otherKey)
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		got := waitServed(obj, bunqv1alpha1.ReasonEndpointNotPinned)
		served := servedOf(got)
		Expect(served.Status).To(Equal(metav1.ConditionFalse))
		Expect(served.Message).To(ContainSubstring("https://" + host + "/bunq"))
		Expect(served.Message).To(ContainSubstring(bunqtest.ParseCertificatePEM(other).SerialNumber.Text(16)))
		Expect(served.Message).To(ContainSubstring("hooks-tls"), "the likely fix names the Secret")
		Expect(got.Status.Endpoints[0].Pinned).To(BeFalse())
		Expect(ready(got).Reason).To(Equal(bunqv1alpha1.ReasonPinned), "the pin itself is fine")
		w.waitEvent(obj, bunqv1alpha1.ReasonEndpointNotPinned)
		v, ok := seriesWith(endpointPinned, map[string]string{"namespace": w.ns, "name": "hooks", "host": host})
		Expect(ok).To(BeTrue())
		Expect(v).To(BeZero())
	})

	It("reports an unreachable endpoint as Unknown and does not hold a retirement back for it", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		closed := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		w.issue("hooks-tls", host)
		obj := w.resource("hooks", retain(0), withEndpoint("https://"+host+"/bunq", closed))
		got := waitServed(obj, bunqv1alpha1.ReasonEndpointUnreachable)
		Expect(servedOf(got).Status).To(Equal(metav1.ConditionUnknown))
		Expect(got.Status.Endpoints[0].Error).NotTo(BeEmpty())
		old := got.Status.PinnedCertificateID

		crt2 := w.issue("hooks-tls", host)
		waitPinned(obj, crt2)
		Eventually(func() bool { return onBunq(old) }).Should(BeFalse())
		Eventually(func() []bunqv1alpha1.PreviousPin { return get(obj).Status.Previous }).Should(BeEmpty())
		_, ok := seriesWith(endpointPinned, map[string]string{"namespace": w.ns, "name": "hooks", "host": host})
		Expect(ok).To(BeFalse(), "no series while the endpoint cannot be reached")
	})

	It("reads the pins back and probes at once on a forced sync, and records the request", func() {
		crt := w.issue("hooks-tls", host)
		s := w.tlsSecret("hooks-tls")
		ep := newEndpoint(host, crt, string(s.Data["tls.key"]))
		obj := w.resource("hooks", withEndpoint("https://"+host+"/bunq", ""))
		waitServed(obj, bunqv1alpha1.ReasonEndpointsServePinnedChain)

		Expect(ep.Serve(foreign(host))).To(Succeed())
		Consistently(func() string { return servedOf(get(obj)).Reason }).WithTimeout(time.Second).
			Should(Equal(bunqv1alpha1.ReasonEndpointsServePinnedChain), "no check before the resync")
		lists := w.emu.Count(http.MethodGet, bunqtest.EndpointPins)
		request := strconv.FormatInt(time.Now().UnixNano(), 10)
		cur := get(obj)
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Annotations = map[string]string{bunqv1alpha1.AnnotationSyncRequestedAt: request}
		Expect(k8sClient.Patch(ctx, cur, patch)).To(Succeed())

		got := waitServed(obj, bunqv1alpha1.ReasonEndpointNotPinned)
		Eventually(func() string { return get(obj).Status.LastHandledSyncRequest }).Should(Equal(request))
		Expect(w.emu.Count(http.MethodGet, bunqtest.EndpointPins)).To(BeNumerically(">", lists), "the pins were read back")
		Expect(got.Status.Endpoints[0].ServedFingerprint).NotTo(Equal(got.Status.Certificate.Fingerprint))
	})
})
