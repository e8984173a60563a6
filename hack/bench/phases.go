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

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// writeTLS writes a fresh certificate into Secret name-tls and returns its leaf.
func (b *bench) writeTLS(name string, create bool) (string, error) {
	return localstack.WriteCertificate(b.ctx, b.c, b.ca, ns, name+"-tls", name+".example.com", create)
}

func (b *bench) createResource(name, keySecret string, retain *metav1.Duration) error {
	return b.c.Create(b.ctx, &bunqv1alpha1.BunqPinnedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: name + "-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: keySecret}, RetainPreviousFor: retain},
	})
}

// deleteResources deletes the resources of the namespaces given, or of all
// when none is, and waits until the operator has unpinned them and they are gone.
func (b *bench) deleteResources(namespaces ...string) error {
	doomed := func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
		return len(namespaces) == 0 || slices.Contains(namespaces, o.Namespace)
	}
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	if err := b.c.List(b.ctx, list); err != nil {
		return err
	}
	list.Items = slices.DeleteFunc(list.Items, func(o bunqv1alpha1.BunqPinnedCertificate) bool { return !doomed(&o) })
	if err := parallel(len(list.Items), func(i int) error {
		return client.IgnoreNotFound(b.c.Delete(b.ctx, &list.Items[i]))
	}); err != nil {
		return err
	}
	// One list a tick, not a read per resource: the API server is the one measured next.
	return localstack.Poll(100*time.Millisecond, 10*time.Minute, func() bool {
		left := &bunqv1alpha1.BunqPinnedCertificateList{}
		return b.c.List(b.ctx, left) == nil && !slices.ContainsFunc(left.Items, func(o bunqv1alpha1.BunqPinnedCertificate) bool { return doomed(&o) })
	})
}

// readyCount counts resources whose name starts with prefix and are Ready.
func (b *bench) readyCount(prefix string) int {
	return b.countIn(ns, func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
		return strings.HasPrefix(o.Name, prefix) && meta.IsStatusConditionTrue(o.Status.Conditions, bunqv1alpha1.ConditionReady)
	})
}

func (b *bench) waitReady(prefix string, n int, limit time.Duration) error {
	if localstack.Poll(20*time.Millisecond, limit, func() bool { return b.readyCount(prefix) >= n }) != nil {
		return fmt.Errorf("only %d of %d %s* resources Ready after %s", b.readyCount(prefix), n, prefix, limit)
	}
	return nil
}

// rotate renews name's certificate and measures until bunq holds the new chain
// and until the status records it.
// Both count from the moment the API server has accepted the renewed Secret.
// The status is followed with a watch, not polled, so the bench does not load
// the API server it measures.
func (b *bench) rotate(name string) (pinned, recorded time.Duration, err error) {
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	w, err := b.w.Watch(b.ctx, list, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
	if err != nil {
		return 0, 0, err
	}
	defer w.Stop()
	leaf, err := b.writeTLS(name, false)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	pinCh := make(chan time.Duration, 1)
	go func() { pinCh <- b.waitPin(leaf, start) }()
	timeout := time.After(30 * time.Second)
	for recorded == 0 {
		select {
		case ev := <-w.ResultChan():
			if obj, ok := ev.Object.(*bunqv1alpha1.BunqPinnedCertificate); ok && obj.Status.Certificate != nil &&
				obj.Status.Pending == "" && b.isLeaf(obj, leaf) {
				recorded = time.Since(start)
			}
		case <-timeout:
			return 0, 0, fmt.Errorf("rotation of %s not recorded in 30s", name)
		}
	}
	return <-pinCh, recorded, nil
}

// isLeaf says whether the status describes the certificate leafPEM.
func (b *bench) isLeaf(obj *bunqv1alpha1.BunqPinnedCertificate, leafPEM string) bool {
	c := bunqtest.ParseCertificatePEM(leafPEM)
	return c != nil && obj.Status.Certificate.SerialNumber == c.SerialNumber.Text(16)
}

// waitPin polls the emulator until a pin starts with leaf.
func (b *bench) waitPin(leaf string, start time.Time) time.Duration {
	want := strings.TrimSpace(leaf)
	for time.Since(start) < 30*time.Second {
		pins, err := b.s.BunqPins(b.ctx)
		if err == nil {
			for _, p := range pins {
				if strings.HasPrefix(p.Chain, want) {
					return time.Since(start)
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 30 * time.Second
}

func (b *bench) rotation() error {
	zero := &metav1.Duration{}
	if _, err := b.writeTLS("rot", true); err != nil {
		return err
	}
	if err := b.createResource("rot", "rotation-key", zero); err != nil {
		return err
	}
	if err := b.waitReady("rot", 1, 30*time.Second); err != nil {
		return err
	}
	fl, err := b.newFloor("rot")
	if err != nil {
		return err
	}
	var pins, statuses, floors []time.Duration
	for i := range *rotationsN {
		time.Sleep(window() / 2) // a renewal now and then, not a burst
		p, s, err := b.rotate("rot")
		if err != nil {
			return err
		}
		time.Sleep(window() / 2) // the floor right after, on an idle operator
		f, err := fl.measure(i)
		if err != nil {
			return err
		}
		pins, statuses, floors = append(pins, p), append(statuses, s), append(floors, f)
	}
	b.report(fmt.Sprintf("rotation: Secret update → pinned on bunq, median of %d", len(pins)), ms(percentile(pins, 0.5)), "≤ 20 ms", percentile(pins, 0.5) <= 20*time.Millisecond)
	b.report("rotation: Secret update → pinned on bunq, max", ms(percentile(pins, 1)), "≤ 250 ms", percentile(pins, 1) <= 250*time.Millisecond)
	ratio := float64(percentile(statuses, 0.5)) / float64(percentile(floors, 0.5))
	b.report(fmt.Sprintf("rotation: Secret update → status updated ÷ floor (%s / %s), median", ms(percentile(statuses, 0.5)),
		ms(percentile(floors, 0.5))), fmt.Sprintf("%.2f×", ratio), "≤ 1.25×", ratio <= 1.25)
	b.report("rotation: Secret update → status updated, max", ms(percentile(statuses, 1)), "≤ 250 ms", percentile(statuses, 1) <= 250*time.Millisecond)
	return nil
}

func (b *bench) coldStart() error {
	n := *coldN
	if err := parallel(n, func(i int) error { _, err := b.writeTLS(fleetName(i), true); return err }); err != nil {
		return err
	}
	before := b.stats()
	start := time.Now()
	rotated := make(chan [2]time.Duration, 1)
	go func() {
		for b.readyCount("fleet-") < n/2 {
			time.Sleep(20 * time.Millisecond)
		}
		p, s, _ := b.rotate("rot")
		rotated <- [2]time.Duration{p, s}
	}()
	if err := parallel(n, func(i int) error { return b.createResource(fleetName(i), "fleet-key", nil) }); err != nil {
		return err
	}
	if err := b.waitReady("fleet-", n, 10*time.Minute); err != nil {
		return err
	}
	took := time.Since(start)
	during := <-rotated
	after := b.stats()

	ideal := time.Duration(n/5) * window()
	ratio := float64(took) / float64(ideal)
	b.report(fmt.Sprintf("cold start: %d resources Ready / POST-limit time (%s)", n, ideal.Round(time.Millisecond)),
		fmt.Sprintf("%.3f (%s)", ratio, took.Round(time.Millisecond)), "≤ 1.03", ratio <= 1.03)
	b.report("cold start: 429 replies", fmt.Sprint(after.statuses["429"]-before.statuses["429"]), "0", after.statuses["429"] == before.statuses["429"])
	posts := float64(diff(after, before, "POST "+bunqtest.EndpointPins)-1) / float64(n) // one is the rotation's
	b.report("cold start: POSTs per converged resource", fmt.Sprintf("%.3f", posts), "≤ 1.02", posts <= 1.02)
	inst, sess := diff(after, before, "POST installation"), diff(after, before, "POST session-server")
	b.report(fmt.Sprintf("cold start: installations and sessions for %d resources on one key", n), fmt.Sprintf("%d and %d", inst, sess), "1 and 1", inst == 1 && sess == 1)
	b.report("rotation while the cold start runs: → pinned on bunq", ms(during[0]), "≤ 2 s", during[0] <= 2*time.Second)
	return nil
}

func fleetName(i int) string { return fmt.Sprintf("fleet-%04d", i) }

func (b *bench) steadyState() error {
	time.Sleep(2 * window()) // let the retirements of the last rotation finish
	before := b.stats()
	time.Sleep(*steady)
	calls := b.stats().total() - before.total()
	b.report(fmt.Sprintf("steady state: bunq calls in %s after convergence", *steady), fmt.Sprint(calls), "0", calls == 0)
	return nil
}

func (b *bench) restart() error {
	before := b.stats()
	if err := b.restartManager("10m"); err != nil {
		return err
	}
	time.Sleep(10 * window())
	if err := b.waitReady("fleet-", *coldN, time.Minute); err != nil {
		return err
	}
	after := b.stats()
	writes := after.writes() - before.writes()
	inst := diff(after, before, "POST installation") + diff(after, before, "POST session-server")
	limited := after.statuses["429"] - before.statuses["429"]
	b.report(fmt.Sprintf("restart with %d synced: bunq writes, installations+sessions, 429s", *coldN),
		fmt.Sprintf("%d, %d, %d", writes, inst, limited), "0, 0, 0", writes == 0 && inst == 0 && limited == 0)
	// The rotation resource has its own key; take it away so the resync figure counts one key.
	return b.c.Delete(b.ctx, &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "rot", Namespace: ns}})
}

func (b *bench) drift() error {
	more := *driftN - *coldN
	if err := parallel(more, func(i int) error { _, err := b.writeTLS(fleetName(*coldN+i), true); return err }); err != nil {
		return err
	}
	if err := parallel(more, func(i int) error { return b.createResource(fleetName(*coldN+i), "fleet-key", nil) }); err != nil {
		return err
	}
	if err := b.waitReady("fleet-", *driftN, 15*time.Minute); err != nil {
		return err
	}
	const period = 20 * time.Second
	if err := b.restartManager(period.String()); err != nil {
		return err
	}
	time.Sleep(15 * time.Second)
	rss, peak := b.rss()
	b.baseRSS, b.basePeak = rss, peak
	b.report(fmt.Sprintf("memory with %d resources (RSS, peak)", *driftN), fmt.Sprintf("%.0f, %.0f MiB", rss, peak), "≤ 128 MiB", peak <= 128)

	time.Sleep(2 * period) // the first resync brings the resources into step
	before := b.stats()
	const cycles = 3
	time.Sleep(cycles * period)
	after := b.stats()
	gets := float64(diff(after, before, "GET "+bunqtest.EndpointPins)) / cycles
	want := float64((*driftN + 199) / 200)
	b.report(fmt.Sprintf("resync of %d resources on one key: GETs per period", *driftN), fmt.Sprintf("%.1f", gets), fmt.Sprintf("%.0f", want), gets <= want)
	// One user-level read, one account listing, one read per account (one here): per key, not per resource.
	discovery := float64(after.discovery()-before.discovery()) / cycles
	b.report(fmt.Sprintf("resync of %d resources on one key: callback-discovery GETs per period", *driftN),
		fmt.Sprintf("%.1f", discovery), "3", discovery <= 3)
	return nil
}

func (b *bench) memory() error {
	payload := []byte(strings.Repeat("x", 50*1024))
	if err := parallel(*unrelatedN, func(i int) error {
		return b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Namespace: "noise"},
			Data: map[string][]byte{"blob": payload}})
	}); err != nil {
		return err
	}
	if err := b.restartManager((20 * time.Second).String()); err != nil {
		return err
	}
	time.Sleep(15 * time.Second)
	rss, peak := b.rss()
	ratio, peakRatio := rss/b.baseRSS, peak/b.basePeak
	b.report(fmt.Sprintf("memory with %d unrelated 50 KB Secrets vs none (RSS, peak)", *unrelatedN),
		fmt.Sprintf("%.2f×, %.2f×", ratio, peakRatio), "≤ 1.10×", ratio <= 1.10 && peakRatio <= 1.10)
	return nil
}
