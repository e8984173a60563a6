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

package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// tally adds up a scenario's figures over the rounds; durations get their
// median and maximum instead.
type tally struct {
	mu        sync.Mutex
	name      string
	values    map[string]float64
	durations map[string][]time.Duration
	order     []string
}

func newTally(name string) *tally {
	return &tally{name: name, values: map[string]float64{}, durations: map[string][]time.Duration{}}
}

func (t *tally) took(key string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.durations[key]; !ok {
		t.order = append(t.order, key)
	}
	t.durations[key] = append(t.durations[key], d)
}

func (t *tally) add(key string, v float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.values[key]; !ok {
		t.order = append(t.order, key)
	}
	t.values[key] += v
}

func (t *tally) addFindings(r *rig, f findings) {
	r.assertClean(f)
	t.add("pins leaked", float64(f.leaked))
	t.add("chains pinned twice", float64(f.duplicated))
	t.add("resources off their Secret's chain", float64(f.wrong))
	t.add("pins lost while referenced", float64(f.lost))
	t.add("secrets seen where none may be", float64(f.secretsSeen))
}

// print writes the totals where make soak shows them.
func (t *tally) print() {
	var b strings.Builder
	fmt.Fprintf(&b, "FIGURES %s (%d round(s)):", t.name, *rounds)
	for _, k := range t.order {
		if ds, ok := t.durations[k]; ok {
			slices.Sort(ds)
			fmt.Fprintf(&b, " %s median=%s max=%s;", k, ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
			continue
		}
		fmt.Fprintf(&b, " %s=%g;", k, t.values[k])
	}
	fmt.Fprintln(os.Stderr, b.String())
}

func eachRound(t *testing.T, name string, round func(t *testing.T, r *rig, tl *tally)) {
	tl := newTally(name)
	for i := range *rounds {
		t.Run(fmt.Sprintf("round-%d", i+1), func(t *testing.T) {
			round(t, newRig(t), tl)
		})
	}
	tl.print()
}

// waitFor polls cond until it holds or limit passes.
func waitFor(cond func() bool, limit time.Duration) bool {
	return localstack.Poll(2*time.Millisecond, limit, cond) == nil || cond()
}

// TestInvariantsCatchProblems proves the checker can fail: a pin nobody
// references, a chain pinned twice, a resource behind its Secret, a token in a
// log line, and a pin that was gone for a moment while a status named it
// (seen by the watcher, though the status is right again by the end).
func TestInvariantsCatchProblems(t *testing.T) {
	r := newRig(t)
	r.start("manager")
	names := r.create(3, 0)
	r.converge(time.Minute)
	if f := r.check(); len(f.problems) > 0 {
		t.Fatalf("a clean run has problems: %v", f.problems)
	}
	r.kill("manager")
	r.emu.PinOutOfBand(apiKey, bunqtest.CertificatePEM("stray.example.com"))
	crt, err := r.tlsCrt(ns, names[0]+"-tls")
	r.must(err)
	r.emu.PinOutOfBand(apiKey, crt)
	r.renew(names[1], false)
	log, err := os.OpenFile(r.s.Log("manager"), os.O_APPEND|os.O_WRONLY, 0)
	r.must(err)
	_, _ = fmt.Fprintln(log, "oops "+apiKey)
	_ = log.Close()
	r.loseForAMoment(names[2])

	f := r.check()
	got := []int{f.leaked, f.duplicated, f.wrong, f.lost, f.secretsSeen}
	if want := []int{2, 1, 1, 1, 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("leaked, duplicated, wrong, lost, secrets seen = %v, want %v: %v", got, want, f.problems)
	}
}

// loseForAMoment removes a resource's pin behind its back, lets the watcher
// look, and then points its status at a new pin of the same chain.
func (r *rig) loseForAMoment(name string) {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	r.must(r.s.Client.Get(r.ctx, client.ObjectKey{Namespace: ns, Name: name}, obj))
	r.emu.UnpinOutOfBand(obj.Status.PinnedCertificateID)
	time.Sleep(300 * time.Millisecond)
	crt, err := r.tlsCrt(ns, name+"-tls")
	r.must(err)
	obj.Status.PinnedCertificateID = r.emu.PinOutOfBand(apiKey, crt)
	r.must(r.s.Client.Status().Update(r.ctx, obj))
}

// TestCrash kills the manager with SIGKILL during 50 renewals over 20
// resources: a third of the time once bunq has made the pin but before the
// manager heard back (so before its status write), a third at a random
// moment. It is restarted each time.
func TestCrash(t *testing.T) {
	eachRound(t, "crash", func(t *testing.T, r *rig, tl *tally) {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		r.start("manager")
		names := r.create(20, time.Second)
		r.converge(time.Minute)
		// Held replies keep a window open between bunq's pin and the status write.
		r.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, HoldReply: 300 * time.Millisecond, Rate: 0.5})
		kills, afterPin := 0, 0
		for range 50 {
			name := names[rng.IntN(len(names))]
			before := r.pinCalls()
			r.renew(name, false)
			switch rng.IntN(3) {
			case 0:
				if waitFor(func() bool { return r.pinCalls() > before }, 2*time.Second) {
					afterPin++
				}
			case 1:
				time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
			default:
				time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
				continue
			}
			r.kill("manager")
			kills++
			r.start("manager")
		}
		r.emu.ClearFaults()
		took := r.converge(2 * time.Minute)
		tl.add("rotations", 50)
		tl.add("kills", float64(kills))
		tl.add("kills after the pin reached bunq", float64(afterPin))
		tl.took("time to converge after the last kill", took)
		tl.addFindings(r, r.check())
	})
}

// faults are the ones the issue names; each rate is of all calls, so later
// faults' rates are of the calls the earlier ones left.
func faults() []bunqtest.Fault {
	left := 1.0
	var out []bunqtest.Fault
	add := func(rate float64, f bunqtest.Fault) {
		f.Rate = rate / left
		left -= rate
		out = append(out, f)
	}
	add(0.05, bunqtest.Fault{Label: "500", Status: http.StatusInternalServerError})
	add(0.05, bunqtest.Fault{Label: "503", Status: http.StatusServiceUnavailable})
	add(0.10, bunqtest.Fault{Label: "429", Status: http.StatusTooManyRequests,
		Text: "Too many requests. You can do a maximum of 5 calls per 3 second to this endpoint."})
	add(0.025, bunqtest.Fault{Label: "reset before", Reset: true})
	add(0.025, bunqtest.Fault{Label: "reset after", ResetAfter: true})
	// 10 s of bunq time: a third of the client's timeout, which the time
	// scale shortens too. Calls that outlive the timeout are TestLateCommit's.
	add(0.02, bunqtest.Fault{Label: "10 s delay", Delay: 10 * time.Second / timeScale})
	return out
}

// TestFaults renews 20 resources five times while bunq fails a quarter of all
// calls and delays 2% by 10 s.
func TestFaults(t *testing.T) {
	eachRound(t, "faults", func(t *testing.T, r *rig, tl *tally) {
		metrics := r.startWithMetrics("manager")
		names := r.create(20, time.Second)
		r.converge(time.Minute)
		base := len(r.emu.Requests())
		for _, f := range faults() {
			r.emu.Inject(f)
		}
		for range 5 {
			for _, name := range names {
				r.renew(name, false)
			}
			time.Sleep(time.Second)
		}
		took := r.converge(3 * time.Minute)
		r.emu.ClearFaults()
		fired := r.emu.FaultCounts()
		total := 0
		for _, f := range faults() {
			tl.add("fault "+f.Label, float64(fired[f.Label]))
			total += fired[f.Label]
		}
		tl.add("rotations", 100)
		tl.add("faults injected", float64(total))
		tl.add("bunq calls", float64(len(r.emu.Requests())-base))
		tl.add("failed syncs the controller retried", r.metricSum(metrics, "bunq_pinning_sync_errors_total"))
		tl.took("time to converge after the last renewal", took)
		tl.addFindings(r, r.check())
	})
}

// TestLeaderFailover runs two managers with leader election and kills the
// leader while its pins are on their way: the other one takes over and finishes.
func TestLeaderFailover(t *testing.T) {
	eachRound(t, "failover", func(t *testing.T, r *rig, tl *tally) {
		r.start("manager-a", "--leader-elect")
		if !waitFor(func() bool { return r.logHas("manager-a", "Successfully acquired lease") }, 30*time.Second) {
			t.Fatal("manager-a did not become leader")
		}
		r.start("manager-b", "--leader-elect")
		names := r.create(20, time.Second)
		r.converge(time.Minute)
		r.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, HoldReply: 500 * time.Millisecond})
		before := r.pinCalls()
		for _, name := range names {
			r.renew(name, false)
		}
		if !waitFor(func() bool { return r.pinCalls() > before }, 5*time.Second) {
			t.Fatal("the leader made no pin")
		}
		r.kill("manager-a")
		took := r.converge(2 * time.Minute)
		if !r.logHas("manager-b", "Successfully acquired lease") {
			t.Fatal("manager-b converged the resources without being leader")
		}
		r.emu.ClearFaults()
		tl.add("rotations", float64(len(names)))
		tl.add("leaders killed", 1)
		tl.took("time from the kill to converged", took)
		tl.addFindings(r, r.check())
	})
}

func (r *rig) logHas(name, text string) bool { return r.logCount(name, text) > 0 }

func (r *rig) logCount(name, text string) int {
	data, _ := os.ReadFile(r.s.Log(name))
	return strings.Count(string(data), text)
}

// TestAPIServerTrouble renews while another client keeps changing the
// resources (so status writes meet conflicts) and restarts the API server
// in the middle.
func TestAPIServerTrouble(t *testing.T) {
	eachRound(t, "api-server", func(t *testing.T, r *rig, tl *tally) {
		r.start("manager")
		names := r.create(20, time.Second)
		r.converge(time.Minute)

		var touches atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.meddle(names, stop, &touches)
		}()
		for _, name := range names {
			r.renew(name, false)
		}
		time.Sleep(200 * time.Millisecond)
		if err := r.s.RestartAPIServer(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			for _, name := range names {
				r.renew(name, false)
			}
			time.Sleep(300 * time.Millisecond)
		}
		close(stop)
		<-done
		took := r.converge(2 * time.Minute)
		if r.mgrs["manager"].ProcessState != nil {
			t.Fatal("the manager exited")
		}
		tl.add("rotations", float64(3*len(names)))
		tl.add("API server restarts", 1)
		tl.add("concurrent writes to the resources", float64(touches.Load()))
		tl.add("syncs that met a newer version", float64(r.logCount("manager", "the resource changed during the sync")))
		tl.took("time to converge after the last renewal", took)
		tl.addFindings(r, r.check())
	})
}

// meddle keeps annotating the resources, as a GitOps tool or a person would,
// so the manager's status writes meet newer versions.
func (r *rig) meddle(names []string, stop chan struct{}, touches *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		obj := &bunqv1alpha1.BunqPinnedCertificate{}
		obj.Name, obj.Namespace = names[i%len(names)], ns
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"soak/touched":"%d"}}}`, i))
		if r.s.Client.Patch(r.ctx, obj, client.RawPatch("application/merge-patch+json", patch)) == nil {
			touches.Add(1)
		} else {
			time.Sleep(50 * time.Millisecond) // the API server is away
		}
	}
}

// TestLateCommit holds a share of the pin requests past the client's timeout,
// so that they commit after the operator gave up on them, while the Secrets
// keep rotating: every late pin must be settled, none leaked.
func TestLateCommit(t *testing.T) {
	eachRound(t, "late-commit", func(t *testing.T, r *rig, tl *tally) {
		r.start("manager")
		names := r.create(10, time.Second)
		r.converge(time.Minute)
		// The manager's timeout is 30 s / timeScale: these commit 1.5 s after it gave up.
		r.emu.Inject(bunqtest.Fault{Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, Delay: 4500 * time.Millisecond, Rate: 0.3})
		for range 3 {
			for _, name := range names {
				r.renew(name, false)
			}
			time.Sleep(time.Second)
		}
		r.emu.ClearFaults()
		took := r.converge(2 * time.Minute)
		tl.add("rotations", float64(3*len(names)))
		tl.add("pins committed after a timeout", float64(r.lateCommits()))
		tl.took("time to converge after the last renewal", took)
		tl.addFindings(r, r.check())
	})
}

// lateCommits counts pin requests bunq carried out after the client's timeout.
func (r *rig) lateCommits() int {
	n := 0
	for _, req := range r.emu.Requests() {
		if req.Method == http.MethodPost && req.Endpoint == bunqtest.EndpointPins && req.Status == http.StatusOK &&
			req.Duration > 3*time.Second {
			n++
		}
	}
	return n
}

// TestLostReplyThenDelete loses the reply of every first pin (bunq made it)
// and deletes the resources at once: the finalizer must settle each pin
// before letting go.
func TestLostReplyThenDelete(t *testing.T) {
	eachRound(t, "lost-reply-then-delete", func(t *testing.T, r *rig, tl *tally) {
		r.start("manager")
		r.emu.Inject(bunqtest.Fault{Label: "lost reply", Method: http.MethodPost, Endpoint: bunqtest.EndpointPins, ResetAfter: true, Times: 10})
		names := r.create(10, time.Second)
		if !waitFor(func() bool { return len(r.emu.Pins(apiKey)) >= len(names) }, time.Minute) {
			t.Fatal("bunq did not receive the pins")
		}
		for _, name := range names {
			obj := &bunqv1alpha1.BunqPinnedCertificate{}
			obj.Name, obj.Namespace = name, ns
			r.must(r.s.Client.Delete(r.ctx, obj))
		}
		took := r.converge(2 * time.Minute) // converged: every resource gone
		tl.add("replies lost", float64(r.emu.FaultCounts()["lost reply"]))
		tl.add("resources deleted", float64(len(names)))
		tl.took("time until all were gone", took)
		tl.addFindings(r, r.check())
	})
}

// TestSharedPins runs two namespaces whose resources serve the same
// certificates (a wildcard copied for a second team) through renewals in
// both, a restart, and the deletion of half of one side: one pin per chain,
// and the other side's pins on bunq at every moment.
func TestSharedPins(t *testing.T) {
	eachRound(t, "shared-pins", func(t *testing.T, r *rig, tl *tally) {
		r.start("manager")
		names := r.create(10, time.Second)
		for _, name := range names {
			r.copyToB(name, true)
			r.createResource(nsB, name, time.Second)
		}
		r.converge(time.Minute)
		for round := range 4 {
			for _, name := range names {
				r.renew(name, false)
				r.copyToB(name, false)
			}
			if round == 1 {
				r.kill("manager")
				r.start("manager")
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, name := range names[:5] {
			obj := &bunqv1alpha1.BunqPinnedCertificate{}
			obj.Name, obj.Namespace = name, ns
			r.must(r.s.Client.Delete(r.ctx, obj))
		}
		took := r.converge(2 * time.Minute)
		tl.add("rotations", float64(8*len(names)))
		tl.add("pins on bunq at the end", float64(len(r.emu.Pins(apiKey))))
		tl.took("time to converge", took)
		tl.addFindings(r, r.check())
	})
}
