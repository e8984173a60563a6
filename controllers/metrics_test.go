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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// seriesOf returns the value of a resource's series of a gauge vector, and
// whether there is one, without creating it.
func seriesOf(vec *prometheus.GaugeVec, namespace, name string) (float64, bool) {
	return seriesWith(vec, map[string]string{"namespace": namespace, "name": name})
}

// seriesWith returns the value of the series with the given labels, and
// whether there is one, without creating it.
func seriesWith(vec *prometheus.GaugeVec, want map[string]string) (float64, bool) {
	ch := make(chan prometheus.Metric, 1024)
	vec.Collect(ch)
	close(ch)
	for m := range ch {
		var out dto.Metric
		Expect(m.Write(&out)).To(Succeed())
		labels := map[string]string{}
		for _, l := range out.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			return out.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

var _ = Describe("Metrics", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("counts every failed sync, also while the reason stays the same", func() {
		w.issue("hooks-tls", "hooks.example.com")
		w.deleteSecret("bunq-api-key") // the same message at every pass
		count := func() float64 {
			return testutil.ToFloat64(syncErrors.WithLabelValues(bunqv1alpha1.ReasonAPIKeyNotFound))
		}
		before := count()
		obj := w.resource("hooks")
		waitReason(obj, bunqv1alpha1.ReasonAPIKeyNotFound)
		Eventually(count).Should(BeNumerically(">", before))
		for range 3 {
			last := count()
			poke(obj) // one more pass, one more failed sync
			Eventually(count).Should(BeNumerically(">", last))
		}
	})

	It("shows Ready as 1 or 0 per resource and removes the series when the resource goes", func() {
		crt := w.issue("hooks-tls", "hooks.example.com")
		obj := w.resource("hooks")
		waitPinned(obj, crt)
		Eventually(func() float64 { v, _ := seriesOf(readyGauge, w.ns, "hooks"); return v }).Should(Equal(1.0))

		w.deleteSecret("hooks-tls")
		waitReason(obj, bunqv1alpha1.ReasonSecretNotFound)
		Eventually(func() float64 { v, _ := seriesOf(readyGauge, w.ns, "hooks"); return v }).Should(Equal(0.0))

		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			Should(MatchError(ContainSubstring("not found")))
		Eventually(func() bool { _, ok := seriesOf(readyGauge, w.ns, "hooks"); return ok }).Should(BeFalse())
		_, ok := seriesOf(certificateNotAfter, w.ns, "hooks")
		Expect(ok).To(BeFalse(), "the expiry series goes too")
	})
})
