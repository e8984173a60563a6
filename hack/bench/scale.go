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
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// The next scale: 5,000 resources on 50 API keys, 100 each.

const scaleNS = "scale"

var (
	scaleKeys   = flag.Int("scale-keys", 50, "API keys of the scale phase")
	scalePerKey = flag.Int("scale-per-key", 100, "resources per key in the scale phase")
	scaleSteady = flag.Duration("scale-steady", 5*time.Minute, "how long the scale phase's steady-state CPU is measured")
	scaleResync = flag.Duration("scale-resync", 90*time.Second, "resync period for the scale phase's GET count")
)

func scaleKey(i int) string {
	return fmt.Sprintf("sandbox_bench_scale_%02d_%s", i, strings.Repeat("0", 40))
}

// scaleKeyArgs are the emulator's --api-key arguments for the phase.
func scaleKeyArgs() []string {
	var out []string
	for i := range *scaleKeys {
		out = append(out, scaleKey(i))
	}
	return out
}

func (b *bench) scale() error {
	n := *scaleKeys * *scalePerKey
	// The earlier phases' resources would add their keys' calls to the
	// counts, and their objects to the memory.
	if err := b.deleteResources(); err != nil {
		return err
	}
	if err := b.c.Create(b.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleNS}}); err != nil {
		return err
	}
	for k := range *scaleKeys {
		if err := b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("key-%02d", k), Namespace: scaleNS},
			Data: map[string][]byte{"api-key": []byte(scaleKey(k))}}); err != nil {
			return err
		}
	}
	name := func(i int) string { return fmt.Sprintf("s-%04d", i) }
	if err := parallel(n, func(i int) error {
		_, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, scaleNS, name(i)+"-tls", name(i)+".example.com", true)
		return err
	}); err != nil {
		return err
	}
	// A cold start: the resources are all there when a fresh manager starts
	// (its limiter starts full). Creating 5,000 while it runs would time the
	// API server's writes as much as the operator.
	b.stopManager()
	created := time.Now()
	if err := parallel(n, func(i int) error {
		return b.c.Create(b.ctx, &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: scaleNS},
			Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: name(i) + "-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
				APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: fmt.Sprintf("key-%02d", i%*scaleKeys)}}})
	}); err != nil {
		return err
	}
	b.report(fmt.Sprintf("creating the %d resources (8 writers, no manager running)", n), time.Since(created).Round(time.Second).String(), "report", true)
	ready := b.watchReady(scaleNS)
	defer ready.stop()
	before := b.stats()
	start := time.Now()
	if err := b.startManager("1h"); err != nil {
		return err
	}
	during := make(chan time.Duration, 1)
	go func() { during <- b.rotateDuringScale(n, name(0), ready) }()
	if err := localstack.Poll(100*time.Millisecond, 60*time.Minute, func() bool { return ready.count() >= n }); err != nil {
		return fmt.Errorf("only %d of %d scale resources Ready", ready.count(), n)
	}
	took := time.Since(start)
	after := b.stats()
	limits := bunq.DefaultLimits().Scaled(*timeScale)
	sessions := time.Duration(*scaleKeys) * limits.SessionServer.Per
	posts := time.Duration((n+limits.POST.Calls-1)/limits.POST.Calls) * limits.POST.Per
	bound := max(sessions, posts)
	ratio := float64(took) / float64(bound)
	limited := after.statuses["429"] - before.statuses["429"]
	inst, sess := diff(after, before, "POST installation"), diff(after, before, "POST session-server")
	b.report(fmt.Sprintf("cold start: %d resources on %d keys Ready / limits' bound (%s)", n, *scaleKeys, bound.Round(time.Second)),
		fmt.Sprintf("%.3f (%s)", ratio, took.Round(time.Second)), "≤ 1.05", ratio <= 1.05)
	b.report("cold start at scale: 429s, installations, sessions", fmt.Sprintf("%d, %d, %d", limited, inst, sess),
		fmt.Sprintf("0, %d, %d", *scaleKeys, *scaleKeys), limited == 0 && inst == *scaleKeys && sess == *scaleKeys)
	rot := <-during
	b.report("rotation while that cold start runs: → pinned on bunq", ms(rot), "≤ 2 s", rot <= 2*time.Second)

	time.Sleep(30 * time.Second)
	rss, peak := b.rss()
	b.report(fmt.Sprintf("memory with %d resources (RSS, peak)", n), fmt.Sprintf("%.0f, %.0f MiB", rss, peak), "≤ 192 MiB", peak <= 192)
	cpu0 := b.cpuSeconds()
	time.Sleep(*scaleSteady)
	cpu := (b.cpuSeconds() - cpu0) / scaleSteady.Seconds()
	b.report(fmt.Sprintf("steady state: manager CPU over %s with %d synced", *scaleSteady, n),
		fmt.Sprintf("%.2f%% of a core", 100*cpu), "≤ 1%", cpu <= 0.01)
	return b.scaleResyncGETs(n)
}

// rotateDuringScale renews one resource once it and half of the others are Ready.
func (b *bench) rotateDuringScale(n int, name string, ready *readyWatch) time.Duration {
	_ = localstack.Poll(100*time.Millisecond, 60*time.Minute, func() bool { return ready.count() >= n/2 && ready.is(name) })
	leaf, err := localstack.WriteCertificate(b.ctx, b.c, b.ca, scaleNS, name+"-tls", name+".example.com", false)
	if err != nil {
		return time.Hour
	}
	return b.waitPin(leaf, time.Now())
}

// scaleResyncGETs restarts with a short resync period and counts the GETs of
// two periods after two to settle.
func (b *bench) scaleResyncGETs(n int) error {
	if err := b.restartManager(scaleResync.String()); err != nil {
		return err
	}
	time.Sleep(2 * *scaleResync)
	before := b.stats()
	time.Sleep(2 * *scaleResync)
	after := b.stats()
	lists := float64(diff(after, before, "GET "+bunqtest.EndpointPins)) / 2
	discovery := float64(after.discovery()-before.discovery()) / 2
	pages := *scaleKeys * ((*scalePerKey + 199) / 200)
	b.report(fmt.Sprintf("resync of %d resources on %d keys: pin-list GETs, discovery GETs per period", n, *scaleKeys),
		fmt.Sprintf("%.1f, %.1f", lists, discovery), fmt.Sprintf("%d, %d", pages, 3**scaleKeys),
		lists <= float64(pages) && discovery <= float64(3**scaleKeys))
	return nil
}

// cpuSeconds is the manager's user and system CPU time so far.
func (b *bench) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.mgr.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and stime are 14 and 15.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}
