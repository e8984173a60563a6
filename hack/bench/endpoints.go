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
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// discoveryGETs are the calls that read the callback URLs.
var discoveryGETs = []string{"GET " + bunqtest.EndpointUserFilters, "GET " + bunqtest.EndpointAccounts,
	"GET " + bunqtest.EndpointAccountFilters}

func (st stats) discovery() int {
	n := 0
	for _, k := range discoveryGETs {
		n += st.counts[k]
	}
	return n
}

// endpoints gives each of the fleet's resources a callback endpoint on one
// TLS server that answers each name with that resource's certificate, as an
// ingress with many hosts does, and times until every one has been checked.
func (b *bench) endpoints() error {
	addr, stop, err := b.fleetIngress()
	if err != nil {
		return err
	}
	defer stop()
	const period = 20 * time.Second // the manager's resync period since the drift phase
	start := time.Now()
	if err := parallel(*driftN, func(i int) error { return b.addEndpoint(fleetName(i), addr) }); err != nil {
		return err
	}
	if err := b.waitChecked(time.Time{}, 5*period); err != nil {
		return err
	}
	b.report(fmt.Sprintf("endpoints: %d resources given one each, until all are checked", *driftN),
		time.Since(start).Round(time.Second).String(), "report", true)
	// At each resync every endpoint is checked again: the longest time between
	// two checks of one endpoint is the period and the time a wave of 1,000
	// handshakes takes.
	first := b.checkTimes()
	again := time.Now()
	if err := b.waitChecked(again, 3*period); err != nil {
		return err
	}
	var longest time.Duration
	for name, at := range b.checkTimes() {
		longest = max(longest, at.Sub(first[name]))
	}
	b.report(fmt.Sprintf("endpoints: longest time between two checks of one of %d (resync %s)", *driftN, period),
		longest.String(), "≤ "+(period*5/4).String(), longest <= period*5/4)
	return nil
}

// checkTimes are the fleet's endpoints' last check times.
func (b *bench) checkTimes() map[string]time.Time {
	out := map[string]time.Time{}
	b.countIn(ns, func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
		if e := o.Status.Endpoints; strings.HasPrefix(o.Name, "fleet-") && len(e) == 1 && e[0].LastCheckTime != nil {
			out[o.Name] = e[0].LastCheckTime.Time
		}
		return false
	})
	return out
}

// waitChecked waits until every fleet resource's endpoint was checked after
// since and serves its pinned leaf. It polls once a second: a list of a
// thousand resources is not free for the API server being measured.
func (b *bench) waitChecked(since time.Time, limit time.Duration) error {
	checked := func() int {
		return b.countIn(ns, func(o *bunqv1alpha1.BunqPinnedCertificate) bool {
			c := meta.FindStatusCondition(o.Status.Conditions, bunqv1alpha1.ConditionServed)
			e := o.Status.Endpoints
			return len(o.Spec.Endpoints) == 1 && c != nil && c.ObservedGeneration == o.Generation &&
				c.Reason == bunqv1alpha1.ReasonEndpointsServePinnedChain && len(e) == 1 && e[0].LastCheckTime != nil &&
				!e[0].LastCheckTime.Time.Before(since.Truncate(time.Second))
		})
	}
	start := time.Now()
	for n := checked(); n < *driftN; n = checked() {
		if time.Since(start) > limit {
			return fmt.Errorf("only %d of %d endpoints checked in %s", n, *driftN, limit)
		}
		time.Sleep(time.Second)
	}
	return nil
}

func (b *bench) addEndpoint(name, addr string) error {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := b.c.Get(b.ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return err
	}
	patch := client.MergeFrom(obj.DeepCopy())
	obj.Spec.Endpoints = []bunqv1alpha1.Endpoint{{URL: "https://" + name + ".example.com/bunq", Address: addr}}
	return b.c.Patch(b.ctx, obj, patch)
}

// countIn counts a namespace's resources for which ok holds.
func (b *bench) countIn(namespace string, ok func(*bunqv1alpha1.BunqPinnedCertificate) bool) int {
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	if err := b.c.List(b.ctx, list, client.InNamespace(namespace)); err != nil {
		return 0
	}
	n := 0
	for i := range list.Items {
		if ok(&list.Items[i]) {
			n++
		}
	}
	return n
}

// fleetIngress serves, for each fleet-* TLS Secret, its certificate to a
// client asking for its name.
func (b *bench) fleetIngress() (string, func(), error) {
	list := &corev1.SecretList{}
	if err := b.c.List(b.ctx, list, client.InNamespace(ns)); err != nil {
		return "", nil, err
	}
	certs := map[string]*tls.Certificate{}
	for _, s := range list.Items {
		name, ok := strings.CutSuffix(s.Name, "-tls")
		if !ok || !strings.HasPrefix(name, "fleet-") {
			continue
		}
		pair, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"])
		if err != nil {
			return "", nil, err
		}
		certs[name+".example.com"] = &pair
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c, ok := certs[hello.ServerName]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
	}})
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			}(conn)
		}
	}()
	return l.Addr().String(), func() { _ = l.Close() }, nil
}
