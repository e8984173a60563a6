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
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// Tenants that meet on one operator: a wildcard certificate copied into many
// namespaces, a Secret that flips without end, a key bunq refuses.

const (
	wildKey    = "sandbox_bench_wild_0000000000000000000000000000000000000000000"
	flipKey    = "sandbox_bench_flip_0000000000000000000000000000000000000000000"
	healthyKey = "sandbox_bench_healthy_000000000000000000000000000000000000000"
	// refusedKey is unknown to the emulator: bunq refuses it as it does a revoked one.
	refusedKey = "sandbox_bench_refused_000000000000000000000000000000000000000"
	wildN      = 50
	refusedN   = 20
)

// tenant makes a namespace with an API key Secret.
func (b *bench) tenant(namespace, key string) error {
	if err := b.c.Create(b.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	return b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bunq-api-key", Namespace: namespace},
		Data: map[string][]byte{"api-key": []byte(key)}})
}

func (b *bench) resourceIn(namespace, name string) error {
	return b.c.Create(b.ctx, &bunqv1alpha1.BunqPinnedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: name + "-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key"}, RetainPreviousFor: &metav1.Duration{}}})
}

// waitFingerprint waits until the resource's status records the chain of crt.
func (b *bench) waitFingerprint(namespace, name, leaf string, limit time.Duration) error {
	return localstack.Poll(5*time.Millisecond, limit, func() bool {
		obj := &bunqv1alpha1.BunqPinnedCertificate{}
		return b.c.Get(b.ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj) == nil &&
			obj.Status.Certificate != nil && b.isLeaf(obj, leaf) && obj.Status.Pending == ""
	})
}

// wildcard copies one wildcard certificate into 50 namespaces on one key,
// then renews it in all of them at once.
func (b *bench) wildcard() error {
	crt, key := b.ca.Leaf("*.example.com", time.Now().Add(-time.Minute), time.Now().Add(90*24*time.Hour))
	name := func(i int) string { return fmt.Sprintf("wild-%02d", i) }
	if err := parallel(wildN, func(i int) error {
		if err := b.tenant(name(i), wildKey); err != nil {
			return err
		}
		if err := localstack.PutCertificate(b.ctx, b.c, b.ca, name(i), "hooks-tls", "*.example.com", crt, key, true); err != nil {
			return err
		}
		return b.resourceIn(name(i), "hooks")
	}); err != nil {
		return err
	}
	if err := parallel(wildN, func(i int) error { return b.waitFingerprint(name(i), "hooks", crt, 3*time.Minute) }); err != nil {
		return err
	}
	before := b.stats()
	crt2, key2 := b.ca.Leaf("*.example.com", time.Now().Add(-time.Minute), time.Now().Add(90*24*time.Hour))
	start := time.Now()
	if err := parallel(wildN, func(i int) error {
		return localstack.PutCertificate(b.ctx, b.c, b.ca, name(i), "hooks-tls", "*.example.com", crt2, key2, false)
	}); err != nil {
		return err
	}
	if err := parallel(wildN, func(i int) error { return b.waitFingerprint(name(i), "hooks", crt2, time.Minute) }); err != nil {
		return err
	}
	took := time.Since(start)
	posts := diff(b.stats(), before, "POST "+bunqtest.EndpointPins)
	b.report(fmt.Sprintf("wildcard in %d namespaces on one key, renewed at once: all statuses, POSTs", wildN),
		fmt.Sprintf("%s, %d", took.Round(time.Millisecond), posts), "≤ 2 s, 1", took <= 2*time.Second && posts == 1)
	return nil
}

// flipper renews another namespace's certificate while one resource's Secret
// changes every 500 ms on the same key.
func (b *bench) flipper() error {
	for _, ns := range []string{"flip", "calm"} {
		if err := b.tenant(ns, flipKey); err != nil {
			return err
		}
		if _, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, ns, ns+"-tls", ns+".example.com", true); err != nil {
			return err
		}
		if err := b.resourceIn(ns, ns); err != nil {
			return err
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				_, _ = localstack.WriteCertificate(b.ctx, b.c, b.ca, "flip", "flip-tls", "flip.example.com", false)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	time.Sleep(5 * time.Second) // the flipping is under way
	var worst time.Duration
	for range 5 {
		leaf, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, "calm", "calm-tls", "calm.example.com", false)
		if err != nil {
			return err
		}
		worst = max(worst, b.waitPin(leaf, time.Now()))
		time.Sleep(time.Second)
	}
	b.report("one Secret flipping every 500 ms: another namespace's renewal → pinned on bunq, max of 5", ms(worst), "≤ 2 s", worst <= 2*time.Second)
	return nil
}

// refused renews a healthy key's certificate while 20 resources sit on a key
// bunq refuses.
func (b *bench) refused() error {
	if err := b.tenant("refused", refusedKey); err != nil {
		return err
	}
	if err := parallel(refusedN, func(i int) error {
		name := fmt.Sprintf("refused-%02d", i)
		if _, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, "refused", name+"-tls", name+".example.com", true); err != nil {
			return err
		}
		return b.resourceIn("refused", name)
	}); err != nil {
		return err
	}
	if err := b.tenant("healthy", healthyKey); err != nil {
		return err
	}
	if _, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, "healthy", "healthy-tls", "healthy.example.com", true); err != nil {
		return err
	}
	if err := b.resourceIn("healthy", "healthy"); err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // the refused key has been tried and held back
	leaf, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, "healthy", "healthy-tls", "healthy.example.com", false)
	if err != nil {
		return err
	}
	took := b.waitPin(leaf, time.Now())
	b.report(fmt.Sprintf("%d resources on a refused key: a healthy key's renewal → pinned on bunq", refusedN), ms(took), "≤ 2 s", took <= 2*time.Second)
	if err := b.refreshBesideRefused(); err != nil {
		return err
	}
	// Left in place, the refused key's retries (a new installation with each
	// fresh manager) would count in the phases after this one.
	return b.deleteResources("refused")
}

// refreshBesideRefused ends the healthy key's session on bunq and renews its
// certificate: the pin waits for a new session, which the refused key's
// retries must not hold up.
func (b *bench) refreshBesideRefused() error {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := b.c.Get(b.ctx, client.ObjectKey{Namespace: "healthy", Name: "healthy"}, obj); err != nil {
		return err
	}
	url := fmt.Sprintf("%s/_emulator/users/%d/expire-sessions", b.s.BunqURL, obj.Status.UserID)
	res, err := http.Post(url, "", nil)
	if err != nil {
		return err
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("expire the healthy key's session: %s", res.Status)
	}
	leaf, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, "healthy", "healthy-tls", "healthy.example.com", false)
	if err != nil {
		return err
	}
	took := b.waitPin(leaf, time.Now())
	bunqTime := time.Duration(float64(took) * *timeScale)
	b.report(fmt.Sprintf("%d resources on a refused key: the healthy key's session ended, its renewal → pinned (bunq time)", refusedN),
		fmt.Sprintf("%s (%s)", ms(took), bunqTime.Round(100*time.Millisecond)), "≤ 60 s", bunqTime <= time.Minute)
	return nil
}
