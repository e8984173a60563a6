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
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// Endpoint verification (design.md Behaviour 11): which callback endpoints a
// resource has, when they are checked, and what their answers mean.

const (
	// endpointRecheck is how often an endpoint that still serves a previous
	// leaf is checked again, until it switches.
	endpointRecheck = 5 * time.Second
	// maxServedWait is how long after a rotation a previous chain stays pinned
	// for an endpoint that never switches.
	maxServedWait = 24 * time.Hour
)

// target is one endpoint to check.
type target struct {
	url     string
	host    string // the TLS server name
	address string // host:port dialled
	source  bunqv1alpha1.EndpointSource
}

// targets are spec.endpoints and the user's callback URLs whose host is one of
// the leaf's names. When bunq cannot be read, the callbacks found before are
// kept: a failed read must not make an endpoint look gone.
func (p *pass) targets(ctx context.Context, acc *account, leaf *x509.Certificate) []target {
	urls, err := acc.callbackURLs(ctx, p.callbacksNotBefore(), p.now)
	if err != nil {
		p.log.Info("cannot read the callback URLs from bunq; checking those found before", "error", err.Error())
		urls = p.knownCallbacks()
	}
	return p.targetsFrom(urls, leaf)
}

// callbacksNotBefore is how old a read of the callback URLs may be: a resync
// period, none on a forced sync.
func (p *pass) callbacksNotBefore() time.Time {
	if p.forced {
		return p.now
	}
	return p.now.Add(-p.r.resyncPeriod())
}

// targetsFrom are spec.endpoints and those of the callback URLs that match the leaf.
func (p *pass) targetsFrom(urls []*url.URL, leaf *x509.Certificate) []target {
	var out []target
	seen := map[string]bool{}
	for _, e := range p.obj.Spec.Endpoints {
		u, err := url.Parse(e.URL)
		if err != nil || seen[e.URL] {
			continue
		}
		seen[e.URL] = true
		address := e.Address
		if address == "" {
			address = hostPort(u)
		}
		out = append(out, target{url: e.URL, host: u.Hostname(), address: address, source: bunqv1alpha1.EndpointSourceSpec})
	}
	for _, u := range urls {
		if len(out) == bunqv1alpha1.MaxEndpoints {
			p.log.Info("more callback URLs match than status can hold; checking the first", "max", bunqv1alpha1.MaxEndpoints)
			break
		}
		if seen[u.String()] || !matchesName(u.Hostname(), leaf.DNSNames) {
			continue
		}
		seen[u.String()] = true
		out = append(out, target{url: u.String(), host: u.Hostname(), address: hostPort(u), source: bunqv1alpha1.EndpointSourceBunq})
	}
	return out
}

func hostPort(u *url.URL) string {
	if port := u.Port(); port != "" {
		return net.JoinHostPort(u.Hostname(), port)
	}
	return net.JoinHostPort(u.Hostname(), "443")
}

// knownCallbacks are the bunq callbacks in status.
func (p *pass) knownCallbacks() []*url.URL {
	var out []*url.URL
	for _, e := range p.obj.Status.Endpoints {
		if u, err := url.Parse(e.URL); err == nil && e.Source == bunqv1alpha1.EndpointSourceBunq {
			out = append(out, u)
		}
	}
	return out
}

// judgeWithoutEndpoints reports Served in a pass that pins, when the callbacks
// read for the key already show there is nothing to check: the condition then
// goes with the pin's own status write instead of one more.
func (p *pass) judgeWithoutEndpoints(acc *account, c *chain) {
	urls, ok := acc.cachedCallbackURLs(p.callbacksNotBefore())
	if !ok || len(p.obj.Status.Endpoints) > 0 || len(p.targetsFrom(urls, c.certs[0])) > 0 {
		return
	}
	p.judgeEndpoints(c)
}

// checkEndpoints probes the endpoints when a check is due and records what
// they serve. It never fails the pass: what it finds goes into Served.
func (p *pass) checkEndpoints(ctx context.Context, acc *account, c *chain) {
	targets := p.targets(ctx, acc, c.certs[0])
	if !p.probeDue(targets) {
		return
	}
	results := make([]served, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { results[i] = p.r.prober.probe(ctx, t.host, t.address) })
	}
	wg.Wait()
	now := metav1.NewTime(p.now)
	current := leafFingerprint(c.certs[0])
	old := p.obj.Status.Endpoints
	next := make([]bunqv1alpha1.EndpointStatus, len(targets))
	for i, t := range targets {
		e := bunqv1alpha1.EndpointStatus{URL: t.url, Source: t.source, LastCheckTime: &now}
		if err := results[i].err; err != nil {
			e.Error = probeError(err)
		} else {
			e.ServedFingerprint, e.ServedLeafSerial = results[i].fingerprint, results[i].serial
		}
		next[i] = e
		if was := findEndpoint(old, t.url); was != nil && was.Error == "" && was.ServedFingerprint != current &&
			e.ServedFingerprint == current && len(p.obj.Status.Previous) > 0 {
			p.event(corev1.EventTypeNormal, "EndpointSwitched", fmt.Sprintf("%s now serves the new certificate; retiring the old pin", t.host))
		}
	}
	p.obj.Status.Endpoints = next
}

func findEndpoint(list []bunqv1alpha1.EndpointStatus, u string) *bunqv1alpha1.EndpointStatus {
	for i := range list {
		if list[i].URL == u {
			return &list[i]
		}
	}
	return nil
}

// probeDue says whether the endpoints are checked in this pass: on a forced
// sync, when their set or the spec changed, at each resync, and every few
// seconds while one still serves a previous leaf.
func (p *pass) probeDue(targets []target) bool {
	st := p.obj.Status
	cond := meta.FindStatusCondition(st.Conditions, bunqv1alpha1.ConditionServed)
	if p.forced || cond == nil || cond.ObservedGeneration != p.obj.Generation || len(targets) != len(st.Endpoints) {
		return true
	}
	oldest := p.now
	for i, t := range targets {
		e := st.Endpoints[i]
		if e.URL != t.url || e.Source != t.source || e.LastCheckTime == nil {
			return true
		}
		oldest = minTime(oldest, e.LastCheckTime.Time)
	}
	if !p.now.Before(oldest.Add(p.r.resyncPeriod())) {
		return true
	}
	return p.switching() && !p.now.Before(oldest.Add(endpointRecheck))
}

// switching says an endpoint still serves a leaf other than the current one
// while previous chains are pinned: it is expected to switch soon.
func (p *pass) switching() bool {
	st := p.obj.Status
	if len(st.Previous) == 0 || st.Certificate == nil {
		return false
	}
	for _, e := range st.Endpoints {
		if e.Error == "" && e.ServedFingerprint != st.Certificate.Fingerprint {
			return true
		}
	}
	return false
}

// servedBy returns an endpoint that served a previous chain's leaf when last
// checked; unreachable endpoints do not count.
func (p *pass) servedBy(prev bunqv1alpha1.PreviousPin) *bunqv1alpha1.EndpointStatus {
	if prev.LeafFingerprint == "" {
		return nil
	}
	for i, e := range p.obj.Status.Endpoints {
		if e.Error == "" && e.ServedFingerprint == prev.LeafFingerprint {
			return &p.obj.Status.Endpoints[i]
		}
	}
	return nil
}

// servedUntil is the latest a previous chain stays pinned for an endpoint
// that still serves it.
func servedUntil(prev bunqv1alpha1.PreviousPin) time.Time {
	if prev.ReplacedAt != nil {
		return prev.ReplacedAt.Add(maxServedWait)
	}
	return prev.RetireAfter.Add(maxServedWait)
}

// judgeEndpoints marks each endpoint pinned or not against the chains pinned
// for the resource now, and reports Served and the metric.
func (p *pass) judgeEndpoints(c *chain) {
	st := &p.obj.Status
	leaves := map[string]bool{leafFingerprint(c.certs[0]): true}
	for _, prev := range st.Previous {
		if prev.LeafFingerprint != "" {
			leaves[prev.LeafFingerprint] = true
		}
	}
	for i := range st.Endpoints {
		e := &st.Endpoints[i]
		e.Pinned = e.Error == "" && leaves[e.ServedFingerprint]
	}
	p.observeEndpoints()
	p.reportServed(servedCondition(st, p.obj.Spec.SecretName))
}

// observeEndpoints sets the metric per host and drops the series of hosts no
// longer checked.
func (p *pass) observeEndpoints() {
	ns, name := p.obj.Namespace, p.obj.Name
	hosts := map[string]float64{}
	for _, e := range p.obj.Status.Endpoints {
		if e.Error != "" {
			continue // unknown is not 0: the alert is about endpoints that answer
		}
		host := hostOf(e.URL)
		v := 0.0
		if e.Pinned {
			v = 1
		}
		if old, ok := hosts[host]; !ok || v < old {
			hosts[host] = v
		}
	}
	for _, e := range p.orig.Status.Endpoints {
		if _, ok := hosts[hostOf(e.URL)]; !ok {
			endpointPinned.DeleteLabelValues(ns, name, hostOf(e.URL))
		}
	}
	for host, v := range hosts {
		endpointPinned.WithLabelValues(ns, name, host).Set(v)
	}
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Hostname()
	}
	return raw
}

// servedCondition is what the endpoints, as last checked, say.
func servedCondition(st *bunqv1alpha1.BunqPinnedCertificateStatus, secret string) (metav1.ConditionStatus, string, string) {
	if len(st.Endpoints) == 0 {
		return metav1.ConditionUnknown, bunqv1alpha1.ReasonNoEndpoints, "no callback URL of the bunq user matches the " +
			"certificate's DNS names, and spec.endpoints is empty: nothing to check"
	}
	var unreachable, previous []bunqv1alpha1.EndpointStatus
	for _, e := range st.Endpoints {
		switch {
		case e.Error != "":
			unreachable = append(unreachable, e)
		case !e.Pinned:
			return metav1.ConditionFalse, bunqv1alpha1.ReasonEndpointNotPinned, fmt.Sprintf("%s serves a leaf that is not "+
				"pinned for this resource (serial %s, %s): bunq will refuse callbacks there. Make the ingress for %s serve "+
				"Secret %s, or, if another certificate (a CDN, a load balancer) is meant to be served there, pin that chain too",
				e.URL, e.ServedLeafSerial, e.ServedFingerprint, hostOf(e.URL), secret)
		case st.Certificate != nil && e.ServedFingerprint != st.Certificate.Fingerprint:
			previous = append(previous, e)
		}
	}
	if len(unreachable) > 0 {
		e := unreachable[0]
		return metav1.ConditionUnknown, bunqv1alpha1.ReasonEndpointUnreachable, fmt.Sprintf("%d of %d endpoints could not "+
			"be checked; %s: %s. The check runs from the operator's pod: if it cannot reach the endpoint as bunq does, "+
			"set spec.endpoints[].address to the ingress's address", len(unreachable), len(st.Endpoints), e.URL, e.Error)
	}
	msg := fmt.Sprintf("%d endpoint(s) serve a pinned leaf", len(st.Endpoints))
	if len(previous) > 0 {
		msg += fmt.Sprintf("; %s still serves the previous certificate, which stays pinned until it switches", previous[0].URL)
	}
	return metav1.ConditionTrue, bunqv1alpha1.ReasonEndpointsServePinnedChain, msg
}

// leafFingerprint is the fingerprint of the leaf alone, as status.endpoints gives it.
func leafFingerprint(leaf *x509.Certificate) string { return fingerprint([]*x509.Certificate{leaf}) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
