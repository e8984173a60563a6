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

// Command demo is `make demo`: a local control plane, the bunq emulator and the
// operator as separate processes; a cert-manager shaped Secret is pinned,
// renewed, and its resource deleted, each step told as it happens.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/k8sassets"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const (
	apiKey    = "sandbox_demo0000000000000000000000000000000000000000000000000"
	namespace = "payments"
	dnsName   = "hooks.example.com"
	// callbackURL is the bunq user's callback, as a notification filter.
	callbackURL = "https://" + dnsName + "/bunq"
	// ingressLag is how long the demo's ingress takes to serve a renewed
	// certificate: longer than retainPreviousFor, so retirement waits for it.
	ingressLag = 10 * time.Second
	retain     = 5 * time.Second
)

var start = time.Now()

func step(format string, args ...any) {
	fmt.Printf("[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: []string{apiKey}, InstallCRD: true,
		EmulatorArgs: []string{"--callback-url", callbackURL}})
	defer func() {
		if s != nil {
			if err := s.Stop(); err != nil {
				fmt.Println("cleanup:", err)
			}
		}
	}()
	if err != nil {
		fail(err)
	}
	if err := story(s); err != nil {
		fmt.Printf("\ndemo failed: %v\nlogs: %s\n", err, s.Dir)
		_ = s.Stop()
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Println("demo failed:", err)
	os.Exit(1)
}

type summary struct {
	firstID, secondID         int64
	firstFP, secondFP         string
	readyAfter                time.Duration
	switchedAfter             time.Duration
	rotationPin, rotationStat time.Duration
	retiredAfter, unpinAfter  time.Duration
}

func story(s *localstack.Stack) error {
	ctx := context.Background()
	version, _ := k8sassets.Version(".")
	step("local control plane up: kube-apiserver %s + etcd (kubeconfig %s)", version, s.Kubeconfig)
	step("CRD bunqpinnedcertificates.bunq.pinq.dev installed")
	step("bunq emulator serving the bunq API at %s/v1; the user's callback URL (notification filter) is %s", s.BunqURL, callbackURL)
	for _, ns := range []string{namespace, "bunq-pinning-system"} {
		if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := s.StartOperator(); err != nil {
		return err
	}
	step("operator started (bin/manager, log %s)", s.Log("manager"))

	if err := s.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bunq-api-key", Namespace: namespace},
		Data: map[string][]byte{"api-key": []byte(apiKey)}}); err != nil {
		return err
	}
	step("Secret %s/bunq-api-key holds the bunq API key", namespace)
	ca := bunqtest.NewCA("Demo CA")
	if _, err := localstack.WriteCertificate(ctx, s.Client, ca, namespace, "hooks-tls", dnsName, true); err != nil {
		return err
	}
	step("Secret %s/hooks-tls written as cert-manager does: kubernetes.io/tls, leaf %s, tls.key, ca.crt", namespace, dnsName)
	ingress, err := localstack.FollowSecret(ctx, s.Client, client.ObjectKey{Namespace: namespace, Name: "hooks-tls"}, ingressLag)
	if err != nil {
		return err
	}
	defer ingress.Close()
	step("ingress for %s serving Secret hooks-tls at %s; it reloads a renewed certificate %s late", dnsName, ingress.Addr(), ingressLag)

	var sum summary
	obj, err := apply(ctx, s.Client, ingress.Addr())
	if err != nil {
		return err
	}
	applied := time.Now()
	step("applied BunqPinnedCertificate %s/hooks (retainPreviousFor %s; spec.endpoints dials %s at the ingress); waiting for Ready",
		namespace, retain, callbackURL)
	step("  (a new process waits out bunq's rate windows once, up to 3 s, as if its predecessor had used them)")
	got, err := waitFor(ctx, s.Client, obj, func(o *bunqv1alpha1.BunqPinnedCertificate) bool { return isReady(o) })
	if err != nil {
		return err
	}
	sum.readyAfter, sum.firstID, sum.firstFP = time.Since(applied), got.Status.PinnedCertificateID, got.Status.Fingerprint
	step("Ready after %s: pinned on bunq as id %d, %s", ms(sum.readyAfter), sum.firstID, short(sum.firstFP))
	got, err = waitFor(ctx, s.Client, obj, func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
		return meta.IsStatusConditionTrue(o.Status.Conditions, bunqv1alpha1.ConditionServed)
	})
	if err != nil {
		return err
	}
	step("endpoint check: %s serves the pinned leaf (serial %s): Served=True", callbackURL, got.Status.Endpoints[0].ServedLeafSerial)
	if err := getTable(s.Config, namespace); err != nil {
		return err
	}

	if err := rotate(ctx, s, ca, obj, &sum); err != nil {
		return err
	}
	if os.Getenv("DEMO_KEEP") != "" {
		keep(s)
	}
	return remove(ctx, s, obj, &sum)
}

func rotate(ctx context.Context, s *localstack.Stack, ca *bunqtest.CA, obj *bunqv1alpha1.BunqPinnedCertificate, sum *summary) error {
	renewed := time.Now()
	if _, err := localstack.WriteCertificate(ctx, s.Client, ca, namespace, "hooks-tls", dnsName, false); err != nil {
		return err
	}
	step("cert-manager renewed %s: new certificate written to Secret %s/hooks-tls", dnsName, namespace)
	pinned := make(chan time.Time, 1)
	go func() { pinned <- waitPinOnBunq(ctx, s, sum.firstID) }()
	got, err := waitFor(ctx, s.Client, obj, func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
		return isReady(o) && o.Status.Fingerprint != sum.firstFP
	})
	if err != nil {
		return err
	}
	sum.rotationStat = time.Since(renewed)
	sum.rotationPin = (<-pinned).Sub(renewed)
	sum.secondID, sum.secondFP = got.Status.PinnedCertificateID, got.Status.Fingerprint
	step("new chain pinned on bunq as id %d %s after the renewal (status updated after %s); id %d stays until %s",
		sum.secondID, ms(sum.rotationPin), ms(sum.rotationStat), sum.firstID, got.Status.Previous[0].RetireAfter.Format(time.TimeOnly))
	if err := getTable(s.Config, namespace); err != nil {
		return err
	}
	if e := got.Status.Endpoints; len(e) > 0 && e[0].ServedFingerprint != got.Status.Certificate.Fingerprint {
		step("endpoint check: %s still serves the previous certificate (serial %s); id %d stays pinned past retainPreviousFor until it switches",
			dnsName, e[0].ServedLeafSerial, sum.firstID)
	}
	note, err := waitEvent(ctx, s.Client, obj, "EndpointSwitched")
	if err != nil {
		return err
	}
	sum.switchedAfter = time.Since(renewed)
	step("endpoint check, %s after the renewal: %s", ms(sum.switchedAfter), note)
	if err := waitBunq(ctx, s, func(ids map[int64]bool) bool { return !ids[sum.firstID] && ids[sum.secondID] }); err != nil {
		return err
	}
	sum.retiredAfter = time.Since(renewed)
	step("old pin %d retired %s after the renewal, once the endpoint had switched; bunq now holds only id %d",
		sum.firstID, ms(sum.retiredAfter), sum.secondID)
	return nil
}

func remove(ctx context.Context, s *localstack.Stack, obj *bunqv1alpha1.BunqPinnedCertificate, sum *summary) error {
	deleted := time.Now()
	if err := s.Client.Delete(ctx, obj); err != nil {
		return err
	}
	step("deleted BunqPinnedCertificate %s/hooks (deletionPolicy Delete)", namespace)
	if err := waitBunq(ctx, s, func(ids map[int64]bool) bool { return len(ids) == 0 }); err != nil {
		return err
	}
	sum.unpinAfter = time.Since(deleted)
	step("finalizer unpinned id %d from bunq after %s; the resource is gone", sum.secondID, ms(sum.unpinAfter))
	fmt.Printf("\nSummary\n  first pin   id %d  %s  Ready after %s\n  renewal     id %d  %s  pinned after %s, status after %s\n  endpoint    %s served the new leaf %s after the renewal\n  retirement  id %d unpinned %s after the renewal\n  deletion    id %d unpinned after %s\n",
		sum.firstID, short(sum.firstFP), ms(sum.readyAfter), sum.secondID, short(sum.secondFP), ms(sum.rotationPin),
		ms(sum.rotationStat), dnsName, ms(sum.switchedAfter), sum.firstID, ms(sum.retiredAfter), sum.secondID, ms(sum.unpinAfter))
	return nil
}

// keep leaves everything running until Ctrl-C, for DEMO_KEEP=1.
func keep(s *localstack.Stack) {
	fmt.Printf("\nDEMO_KEEP is set: everything keeps running.\n  export KUBECONFIG=%s\n  kubectl get bpc -A\n  logs: %s\nPress Ctrl-C to delete the resource and stop.\n\n", s.Kubeconfig, s.Dir)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

func apply(ctx context.Context, c client.Client, ingress string) (*bunqv1alpha1.BunqPinnedCertificate, error) {
	obj := &bunqv1alpha1.BunqPinnedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: namespace},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{
			SecretName:        "hooks-tls",
			APIKeySecretRef:   bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key", Key: "api-key"},
			Environment:       bunqv1alpha1.EnvironmentSandbox,
			RetainPreviousFor: &metav1.Duration{Duration: retain},
			Endpoints:         []bunqv1alpha1.Endpoint{{URL: callbackURL, Address: ingress}},
		},
	}
	return obj, c.Create(ctx, obj)
}

func isReady(o *bunqv1alpha1.BunqPinnedCertificate) bool {
	return meta.IsStatusConditionTrue(o.Status.Conditions, bunqv1alpha1.ConditionReady)
}

// waitFor polls the resource until done says so; a poll every few milliseconds
// keeps the measured latencies honest.
func waitFor(ctx context.Context, c client.Client, obj *bunqv1alpha1.BunqPinnedCertificate, done func(*bunqv1alpha1.BunqPinnedCertificate) bool) (*bunqv1alpha1.BunqPinnedCertificate, error) {
	var got *bunqv1alpha1.BunqPinnedCertificate
	err := localstack.Poll(2*time.Millisecond, 60*time.Second, func() bool {
		got = &bunqv1alpha1.BunqPinnedCertificate{}
		return c.Get(ctx, client.ObjectKeyFromObject(obj), got) == nil && done(got)
	})
	if err != nil {
		return nil, fmt.Errorf("%s/%s did not reach the expected state in 60s", obj.Namespace, obj.Name)
	}
	return got, nil
}

func waitBunq(ctx context.Context, s *localstack.Stack, done func(map[int64]bool) bool) error {
	err := localstack.Poll(2*time.Millisecond, 60*time.Second, func() bool {
		pins, err := s.BunqPins(ctx)
		if err != nil {
			return false
		}
		ids := map[int64]bool{}
		for _, p := range pins {
			ids[p.ID] = true
		}
		return done(ids)
	})
	if err != nil {
		return fmt.Errorf("bunq did not reach the expected pins in 60s")
	}
	return nil
}

// waitPinOnBunq returns when a pin other than old appears on bunq.
func waitPinOnBunq(ctx context.Context, s *localstack.Stack, old int64) time.Time {
	_ = waitBunq(ctx, s, func(ids map[int64]bool) bool {
		for id := range ids {
			if id != old {
				return true
			}
		}
		return false
	})
	return time.Now()
}

// waitEvent returns the note of the resource's first event with reason.
func waitEvent(ctx context.Context, c client.Client, obj *bunqv1alpha1.BunqPinnedCertificate, reason string) (string, error) {
	var note string
	err := localstack.Poll(20*time.Millisecond, 60*time.Second, func() bool {
		list := &eventsv1.EventList{}
		if c.List(ctx, list, client.InNamespace(obj.Namespace)) != nil {
			return false
		}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.Name && e.Reason == reason {
				note = e.Note
				return true
			}
		}
		return false
	})
	if err != nil {
		return "", fmt.Errorf("no %s event for %s/%s in 60s", reason, obj.Namespace, obj.Name)
	}
	return note, nil
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func short(fp string) string {
	if len(fp) > 23 {
		return fp[:23] + "…"
	}
	return fp
}
