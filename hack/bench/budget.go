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
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Sharing the egress IP: the payment application that receives the callbacks
// often leaves through the same NAT IP as the operator, and bunq counts per IP.

const (
	budgetKey   = "sandbox_bench_budget_0000000000000000000000000000000000000000"
	neighborKey = "sandbox_bench_neighbor_00000000000000000000000000000000000000"
	budgetN     = 30
)

// neighbor is the other application: it lists and pins on its own key as fast
// as its limiter lets it, and counts its calls and 429s.
type neighbor struct {
	client       *bunq.Client
	calls, is429 atomic.Int64
}

func (b *bench) newNeighbor(limits bunq.Limits) (*neighbor, error) {
	n := &neighbor{}
	c, err := bunq.New(bunq.Options{BaseURL: b.s.BunqURL + "/v1", APIKey: neighborKey,
		Limiter: bunq.NewLimiter(limits, false), Backoff: bunq.Backoff{Attempts: 1},
		Observe: func(ci bunq.CallInfo) {
			n.calls.Add(1)
			if ci.StatusCode == http.StatusTooManyRequests {
				n.is429.Add(1)
			}
		}})
	if err != nil {
		return nil, err
	}
	n.client = c
	_, err = c.UserID(b.ctx)
	return n, err
}

// run keeps calling until ctx ends.
func (n *neighbor) run(ctx context.Context, pem string) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			_, _ = n.client.ListPins(ctx)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			if id, err := n.client.CreatePin(ctx, []string{pem}); err == nil {
				_ = n.client.DeletePin(ctx, id)
			}
		}
	})
	return &wg
}

// budget runs the operator with --bunq-rate-budget=0.5 while it pins new
// resources on a key of its own, next to a neighbour that keeps to the rest of
// bunq's limits, then next to a greedy one that takes all of them.
func (b *bench) budget() error {
	if err := b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "budget-key", Namespace: ns},
		Data: map[string][]byte{"api-key": []byte(budgetKey)}}); err != nil {
		return err
	}
	scaled := bunq.DefaultLimits().Scaled(*timeScale)
	half := scaled.Budget(0.5)
	rest := bunq.Limits{GET: bunq.Rate{Calls: scaled.GET.Calls - half.GET.Calls, Per: scaled.GET.Per},
		POST:   bunq.Rate{Calls: scaled.POST.Calls - half.POST.Calls, Per: scaled.POST.Per},
		DELETE: bunq.Rate{Calls: scaled.DELETE.Calls - half.DELETE.Calls, Per: scaled.DELETE.Per}}
	for round, limits := range []bunq.Limits{rest, scaled} {
		name := []string{"a neighbour keeping to the rest", "a greedy neighbour"}[round]
		if err := b.budgetRound(round, name, limits); err != nil {
			return err
		}
	}
	// The phases after this one measure a manager with the whole budget, and
	// with no allowance cut by the greedy neighbour's 429s.
	return b.restartManager("10m")
}

func (b *bench) budgetRound(round int, name string, limits bunq.Limits) error {
	nb, err := b.newNeighbor(limits)
	if err != nil {
		return err
	}
	time.Sleep(b.sessionWindow()) // the neighbour's session and the operator's do not share a window
	b.stopManager()
	before := b.stats()
	nbCalls0, nb4290 := nb.calls.Load(), nb.is429.Load() // its session's calls came before
	if err := b.startManager((20 * time.Second).String(), "--bunq-rate-budget", "0.5"); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(b.ctx)
	pem, err := b.writeTLS(fmt.Sprintf("neighbor-%d", round), true)
	if err != nil {
		stop()
		return err
	}
	wg := nb.run(ctx, pem)
	prefix := fmt.Sprintf("budget-%d-", round)
	err = parallel(budgetN, func(i int) error {
		res := fmt.Sprintf("%s%02d", prefix, i)
		if _, err := b.writeTLS(res, true); err != nil {
			return err
		}
		return b.createResource(res, "budget-key", nil)
	})
	if err == nil && round == 0 {
		err = b.waitReady(prefix, budgetN, 5*time.Minute)
	}
	if err == nil && round == 1 {
		// A neighbour that takes every window may starve the operator: report
		// how far it got instead of failing the remaining phases.
		_ = b.waitReady(prefix, budgetN, 2*time.Minute)
	}
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	after := b.stats()
	total429 := int64(after.statuses["429"] - before.statuses["429"])
	nbCalls, nb429 := nb.calls.Load()-nbCalls0, nb.is429.Load()-nb4290
	ours429 := total429 - nb429
	ourCalls := int64(after.total()-before.total()) - nbCalls
	if round == 0 {
		b.report("rate budget 0.5 beside "+name+": 429s operator, neighbour", fmt.Sprintf("%d, %d", ours429, nb429),
			"0, 0", ours429 == 0 && nb429 == 0)
		return nil
	}
	share := float64(ours429) / float64(max(ourCalls, 1))
	ready := b.readyCount(prefix)
	b.report(fmt.Sprintf("rate budget 0.5 beside %s: Ready of %d in 2m, operator's 429s", name, budgetN),
		fmt.Sprintf("%d, %.1f%% of %d", ready, 100*share, ourCalls), fmt.Sprintf("%d, < 5%%", budgetN), ready == budgetN && share < 0.05)
	return b.recoverAfter(name, prefix, after)
}

// recoverAfter times until the resources the neighbour starved are Ready once
// it has stopped, with the same manager: its cut allowances grow back. The
// phases after this one then count no pins of these.
func (b *bench) recoverAfter(name, prefix string, before stats) error {
	start := time.Now()
	if err := b.waitReady(prefix, budgetN, 5*time.Minute); err != nil {
		return err
	}
	limited := b.stats().statuses["429"] - before.statuses["429"]
	b.report(fmt.Sprintf("rate budget 0.5 after %s stops: all %d Ready, 429s", name, budgetN),
		fmt.Sprintf("%s, %d", time.Since(start).Round(100*time.Millisecond), limited), "report, 0", limited == 0)
	return nil
}

// sessionWindow is bunq's session-server window at the bench's time scale, and a margin.
func (b *bench) sessionWindow() time.Duration {
	return bunq.DefaultLimits().Scaled(*timeScale).SessionServer.Per + window()
}
