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

// Package reliability runs the operator binary through crashes, bunq faults, a
// leader failover and API server trouble, against a real control plane and the
// in-process bunq emulator, and checks after each scenario that nothing was
// lost or leaked. make test runs the short form; make soak repeats every
// scenario -rounds times and prints the totals.
package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

var rounds = flag.Int("rounds", 1, "times each scenario runs, each on a fresh control plane (make soak sets it)")

const (
	apiKey = "sandbox_reliability_00000000000000000000000000000000000000000000"
	ns     = "soak"
	nsB    = "soak-b" // a second team on the same bunq user
	// timeScale makes bunq's 3 s rate-limit windows 0.3 s, in the emulator and
	// the operator alike.
	timeScale = 10
)

// rig is one scenario's world: a control plane, the emulator, the managers and
// the resources, with every tls.key written so that leaks can be looked for.
type rig struct {
	t    *testing.T
	ctx  context.Context
	s    *localstack.Stack
	emu  *bunqtest.Server
	ca   *bunqtest.CA
	mgrs map[string]*exec.Cmd

	mu    sync.Mutex
	keys  []string
	lost  map[string]bool // "resource id" pairs the watcher saw referenced but not on bunq
	reads int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "manager")); err != nil {
		t.Fatal("bin/manager is missing: run `make test`, which builds it")
	}
	emu, err := bunqtest.New(bunqtest.Options{TimeScale: timeScale}, apiKey)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", emu.AdminHandler())
	mux.Handle("/", emu)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := localstack.Start(localstack.Options{Root: root, InstallCRD: true, BunqURL: srv.URL})
	r := &rig{t: t, ctx: context.Background(), s: s, emu: emu, ca: bunqtest.NewCA("Reliability CA"), mgrs: map[string]*exec.Cmd{},
		lost: map[string]bool{}}
	keep := os.Getenv("KEEP_LOGS") != ""
	t.Cleanup(func() {
		if t.Failed() || keep {
			t.Logf("logs kept in %s", s.Dir)
		}
		_ = s.Stop()
		if !t.Failed() && !keep {
			_ = os.RemoveAll(s.Dir)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ns, nsB, "bunq-pinning-system"} {
		r.must(s.Client.Create(r.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
	}
	for _, name := range []string{ns, nsB} {
		r.must(s.Client.Create(r.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bunq-api-key", Namespace: name},
			Data: map[string][]byte{"api-key": []byte(apiKey)}}))
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go r.watch(stop, done)
	t.Cleanup(func() { close(stop); <-done })
	return r
}

// watch checks, again and again while the scenario runs, that every pin a
// status names as current is on bunq: the invariant must hold whenever a user
// could look, not only at the end.
func (r *rig) watch(stop, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		before := r.pinIDs()
		list := &bunqv1alpha1.BunqPinnedCertificateList{}
		if r.s.Client.List(r.ctx, list) != nil {
			continue // the API server is away
		}
		after := r.pinIDs()
		r.mu.Lock()
		r.reads++
		for _, obj := range list.Items {
			id := obj.Status.PinnedCertificateID
			if id != 0 && obj.DeletionTimestamp.IsZero() && !before[id] && !after[id] {
				r.lost[fmt.Sprintf("%s/%s id %d", obj.Namespace, obj.Name, id)] = true
			}
		}
		r.mu.Unlock()
	}
}

func (r *rig) pinIDs() map[int64]bool {
	ids := map[int64]bool{}
	for _, p := range r.emu.Pins(apiKey) {
		ids[p.ID] = true
	}
	return ids
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// start runs a manager as deployed, logging to name.log.
func (r *rig) start(name string, extra ...string) {
	r.t.Helper()
	args := append([]string{"--bunq-time-scale", fmt.Sprint(timeScale)}, extra...)
	cmd, err := r.s.StartOperatorNamed(name, args...)
	r.must(err)
	r.mgrs[name] = cmd
}

// kill ends a manager with SIGKILL: no cleanup, no lease release.
func (r *rig) kill(name string) {
	localstack.Kill(r.mgrs[name])
	delete(r.mgrs, name)
}

// create makes n resources, each with its own TLS Secret.
func (r *rig) create(n int, retain time.Duration) []string {
	var names []string
	for i := range n {
		name := fmt.Sprintf("r-%02d", i)
		names = append(names, name)
		r.renew(name, true)
		r.createResource(ns, name, retain)
	}
	return names
}

func (r *rig) createResource(namespace, name string, retain time.Duration) {
	obj := &bunqv1alpha1.BunqPinnedCertificate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: bunqv1alpha1.BunqPinnedCertificateSpec{SecretName: name + "-tls", Environment: bunqv1alpha1.EnvironmentSandbox,
			APIKeySecretRef: bunqv1alpha1.SecretKeyRef{Name: "bunq-api-key"}, RetainPreviousFor: &metav1.Duration{Duration: retain}}}
	r.must(r.s.Client.Create(r.ctx, obj))
}

// copyToB writes a resource's TLS Secret, certificate and key, into the second
// namespace, as a wildcard certificate copied for another team.
func (r *rig) copyToB(name string, create bool) {
	r.t.Helper()
	s := &corev1.Secret{}
	r.must(r.s.Client.Get(r.ctx, client.ObjectKey{Namespace: ns, Name: name + "-tls"}, s))
	cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: nsB}, Type: s.Type, Data: s.Data}
	if create {
		r.must(r.s.Client.Create(r.ctx, cp))
		return
	}
	cur := &corev1.Secret{}
	r.must(r.s.Client.Get(r.ctx, client.ObjectKeyFromObject(cp), cur))
	cur.Data = s.Data
	r.must(r.s.Client.Update(r.ctx, cur))
}

// renew writes a new certificate into a resource's Secret, as cert-manager does.
func (r *rig) renew(name string, create bool) {
	r.t.Helper()
	_, key, err := localstack.IssueCertificate(r.ctx, r.s.Client, r.ca, ns, name+"-tls", name+".example.com", create)
	r.must(err)
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
}

// converge waits until every resource is Ready with its Secret's chain, nothing
// pending and every previous pin retired, and returns how long that took.
func (r *rig) converge(limit time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < limit {
		if last = r.unsettled(); last == "" {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("not converged after %s: %s (logs in %s)", limit, last, r.s.Dir)
	return 0
}

// unsettled names one resource that is not yet where it should end up, or "".
func (r *rig) unsettled() string {
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	if err := r.s.Client.List(r.ctx, list); err != nil {
		return err.Error()
	}
	for _, obj := range list.Items {
		if !obj.DeletionTimestamp.IsZero() {
			return obj.Name + " is still being deleted"
		}
		want, err := r.secretFingerprint(obj.Namespace, obj.Spec.SecretName)
		if err != nil {
			return err.Error()
		}
		st := obj.Status
		c := meta.FindStatusCondition(st.Conditions, bunqv1alpha1.ConditionReady)
		switch {
		case c == nil || c.Reason != bunqv1alpha1.ReasonPinned:
			return obj.Name + " is not Ready: " + fmt.Sprint(c)
		case st.Fingerprint != want:
			return obj.Name + " has not pinned its Secret's chain yet"
		case st.Pending != "" || len(st.Previous) > 0 || len(st.Unsettled) > 0:
			return obj.Name + " has a pending, previous or unsettled pin"
		}
	}
	return ""
}

func (r *rig) secretFingerprint(namespace, name string) (string, error) {
	crt, err := r.tlsCrt(namespace, name)
	return fingerprint(crt), err
}

// tlsCrt reads a TLS Secret's chain as the operator would pin it.
func (r *rig) tlsCrt(namespace, name string) (string, error) {
	s := &corev1.Secret{}
	err := r.s.Client.Get(r.ctx, client.ObjectKey{Namespace: namespace, Name: name}, s)
	return string(s.Data["tls.crt"]), err
}

// fingerprint is the operator's: sha256 over the chain's DER.
func fingerprint(pems string) string {
	h := sha256.New()
	rest := []byte(pems)
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		h.Write(block.Bytes)
		rest = next
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// findings are what the invariants found wrong; all must be zero.
type findings struct {
	leaked, duplicated, wrong, lost, secretsSeen int
	problems                                     []string
}

func (f *findings) add(counter *int, format string, args ...any) {
	*counter++
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// assertClean fails the test for every problem found.
func (r *rig) assertClean(f findings) {
	r.t.Helper()
	for _, p := range f.problems {
		r.t.Error(p)
	}
}

// check tests the invariants: every resource Ready with its Secret's chain
// pinned under its status id; every pin on bunq referenced by a status; no
// chain pinned twice; no tls.key, API key or token in a request body (beyond
// the API key bunq's device and session calls carry), an event, a status or a
// log line.
func (r *rig) check() findings {
	r.t.Helper()
	var f findings
	r.mu.Lock()
	for what := range r.lost {
		f.add(&f.lost, "a status referred to a pin bunq lacked: %s", what)
	}
	if r.reads == 0 {
		f.add(&f.lost, "the watcher never read the resources")
	}
	r.mu.Unlock()
	list := &bunqv1alpha1.BunqPinnedCertificateList{}
	r.must(r.s.Client.List(r.ctx, list))
	referenced := map[int64]bool{}
	pins := map[int64]string{}
	seen := map[string]int{}
	for _, p := range r.emu.Pins(apiKey) {
		fp := fingerprint(p.Chain)
		pins[p.ID] = fp
		seen[fp]++
	}
	for _, obj := range list.Items {
		want, err := r.secretFingerprint(obj.Namespace, obj.Spec.SecretName)
		r.must(err)
		st := obj.Status
		if st.Fingerprint != want || pins[st.PinnedCertificateID] != want {
			f.add(&f.wrong, "%s: status pins %s as %d, bunq holds %q there, the Secret has %s", obj.Name, st.Fingerprint,
				st.PinnedCertificateID, pins[st.PinnedCertificateID], want)
		}
		referenced[st.PinnedCertificateID] = true
		for _, prev := range st.Previous {
			referenced[prev.ID] = true
		}
	}
	for id := range pins {
		if !referenced[id] {
			f.add(&f.leaked, "pin %d on bunq is referenced by no resource", id)
		}
	}
	for fp, n := range seen {
		if n > 1 {
			f.add(&f.duplicated, "chain %s is pinned %d times", fp, n)
		}
	}
	r.checkSecrets(list, &f)
	return f
}

// checkSecrets looks for private keys, API keys and tokens where none may be.
func (r *rig) checkSecrets(list *bunqv1alpha1.BunqPinnedCertificateList, f *findings) {
	r.mu.Lock()
	var keyLines []string
	for _, key := range r.keys {
		for _, line := range strings.Split(key, "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") {
				keyLines = append(keyLines, line)
			}
		}
	}
	r.mu.Unlock()
	secrets := r.emu.Secrets() // the API key and every token bunq handed out
	look := func(where, text string, forbidden []string) {
		if bunqtest.ContainsAny(text, forbidden) {
			f.add(&f.secretsSeen, "a secret appears in %s", where)
		}
	}
	for _, req := range r.emu.Requests() {
		forbidden := keyLines
		if req.Endpoint != bunqtest.EndpointDeviceServer && req.Endpoint != bunqtest.EndpointSession {
			forbidden = append(append([]string(nil), keyLines...), secrets...)
		}
		look("the body of "+req.Method+" "+req.Path, string(req.Body), forbidden)
	}
	all := append(append([]string(nil), keyLines...), secrets...)
	status, err := json.Marshal(list)
	r.must(err)
	look("a resource", string(status), all)
	events := &eventsv1.EventList{}
	r.must(r.s.Client.List(r.ctx, events))
	for _, e := range events.Items {
		look("event "+e.Reason, e.Note, all)
	}
	logs, _ := filepath.Glob(filepath.Join(r.s.Dir, "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		r.must(err)
		look(filepath.Base(path), string(data), all)
	}
}

// pinCalls counts the pin calls bunq received so far, carried out or not.
func (r *rig) pinCalls() int { return r.emu.Count(http.MethodPost, bunqtest.EndpointPins) }

// startWithMetrics starts a manager serving plain-HTTP metrics and returns their URL.
func (r *rig) startWithMetrics(name string) string {
	r.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	r.must(err)
	addr := l.Addr().String()
	r.must(l.Close())
	r.start(name, "--metrics-bind-address", addr, "--metrics-secure=false")
	return "http://" + addr + "/metrics"
}

// metricSum adds up every series of a counter.
func (r *rig) metricSum(url, name string) float64 {
	r.t.Helper()
	resp, err := http.Get(url)
	r.must(err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	r.must(err)
	sum := 0.0
	if f, ok := families[name]; ok {
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
