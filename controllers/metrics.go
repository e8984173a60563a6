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
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

var (
	apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bunq_pinning_api_requests_total",
		Help: "HTTP calls to bunq by method, endpoint template and status code (0: no reply).",
	}, []string{"method", "endpoint", "code"})
	apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bunq_pinning_api_request_duration_seconds",
		Help:    "Duration of HTTP calls to bunq.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"method", "endpoint"})
	certificateNotAfter = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bunq_pinning_certificate_not_after_timestamp_seconds",
		Help: "Expiry of the pinned leaf certificate, per BunqPinnedCertificate.",
	}, []string{"namespace", "name"})
	rotations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bunq_pinning_rotations_total",
		Help: "Renewed chains pinned in place of an older one.",
	})
	syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bunq_pinning_sync_errors_total",
		Help: "Failed syncs by Ready reason: every one, also while the reason stays the same.",
	}, []string{"reason"})
	readyGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bunq_pinning_ready",
		Help: "1 when the BunqPinnedCertificate is Ready, else 0.",
	}, []string{"namespace", "name"})
	endpointPinned = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bunq_pinning_endpoint_pinned",
		Help: "1 when the callback endpoint serves a leaf pinned for the BunqPinnedCertificate, 0 when it serves another; no series while it cannot be reached.",
	}, []string{"namespace", "name", "host"})
)

func init() {
	metrics.Registry.MustRegister(apiRequests, apiDuration, certificateNotAfter, rotations, syncErrors, readyGauge, endpointPinned)
}

// forgetSeries removes the series of a resource that is gone.
func forgetSeries(namespace, name string) {
	certificateNotAfter.DeleteLabelValues(namespace, name)
	readyGauge.DeleteLabelValues(namespace, name)
	endpointPinned.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
}

// ObserveBunqCall records one bunq call; main passes it to the bunq client.
func ObserveBunqCall(c bunq.CallInfo) {
	apiRequests.WithLabelValues(c.Method, c.Endpoint, strconv.Itoa(c.StatusCode)).Inc()
	apiDuration.WithLabelValues(c.Method, c.Endpoint).Observe(c.Duration.Seconds())
}
