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

package bunq

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLimiterKeepsTheWindow(t *testing.T) {
	t.Parallel()
	rate := Rate{Calls: 3, Per: 100 * time.Millisecond}
	l := NewLimiter(Limits{GET: rate}, false)
	var mu sync.Mutex
	var starts, ends []time.Time
	var wg sync.WaitGroup
	for range 9 {
		wg.Go(func() {
			release, err := l.acquire(context.Background(), "h", "GET")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // the call in flight
			mu.Lock()
			ends = append(ends, time.Now())
			mu.Unlock()
			release()
		})
	}
	wg.Wait()
	// A call may start only once the call three before it has been done for a window.
	for i := 3; i < len(starts); i++ {
		if gap := starts[i].Sub(ends[i-3]); gap < rate.Per {
			t.Errorf("call %d started %s after call %d finished, want at least %s", i, gap, i-3, rate.Per)
		}
	}
}

func TestLimiterHostsAndMethodsAreSeparate(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Limits{GET: Rate{1, time.Hour}, POST: Rate{1, time.Hour}}, false)
	for _, k := range [][2]string{{"a", "GET"}, {"b", "GET"}, {"a", "POST"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		release, err := l.acquire(ctx, k[0], k[1])
		cancel()
		if err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		release()
	}
}

func TestLimiterStartsFull(t *testing.T) {
	t.Parallel()
	full := NewLimiter(Limits{POST: Rate{5, time.Hour}, SessionServer: Rate{1, time.Hour}}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := full.acquire(ctx, "h", "POST"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first POST of a restarted process: %v, want to wait for the window", err)
	}
	release, err := full.acquire(context.Background(), "h", bucketSessionServer)
	if err != nil {
		t.Fatalf("session-server starts empty: %v", err)
	}
	release()

	// The window is full as of the limiter's start, not of a method's first use.
	early := NewLimiter(Limits{DELETE: Rate{5, 50 * time.Millisecond}}, true)
	time.Sleep(60 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel2()
	if _, err := early.acquire(ctx2, "h", "DELETE"); err != nil {
		t.Fatalf("first DELETE a window after the start: %v, want no wait", err)
	}
}

func TestLimiterServesHigherPriorityFirst(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Limits{POST: Rate{1, 30 * time.Millisecond}}, false)
	release, _ := l.acquire(context.Background(), "h", "POST")
	order := make(chan Priority, 4)
	var wg sync.WaitGroup
	start := func(p Priority) {
		wg.Go(func() {
			r, err := l.acquire(WithPriority(context.Background(), p), "h", "POST")
			if err != nil {
				t.Error(err)
				return
			}
			order <- p
			r()
		})
	}
	w := l.window("h", "POST")
	queued := func(n int) {
		for {
			w.mu.Lock()
			got := len(w.waiters)
			w.mu.Unlock()
			if got == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	start(PriorityLow)
	start(PriorityNormal)
	queued(2) // both wait before the urgent one arrives
	start(PriorityHigh)
	queued(3)
	release()
	wg.Wait()
	close(order)
	var got []Priority
	for p := range order {
		got = append(got, p)
	}
	want := []Priority{PriorityHigh, PriorityNormal, PriorityLow}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("served %v, want %v", got, want)
		}
	}
}

func TestLimiterCancelledWaiterLeavesTheQueue(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Limits{GET: Rate{1, 20 * time.Millisecond}}, false)
	release, _ := l.acquire(context.Background(), "h", "GET")
	ctx, cancel := context.WithCancel(WithPriority(context.Background(), PriorityHigh))
	cancel()
	if _, err := l.acquire(ctx, "h", "GET"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	release()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if _, err := l.acquire(ctx2, "h", "GET"); err != nil {
		t.Fatalf("the queue is stuck behind a cancelled waiter: %v", err)
	}
}

func TestLimitsBudgetKeepsTheRestForAnotherClient(t *testing.T) {
	t.Parallel()
	half := DefaultLimits().Budget(0.5)
	if half.GET != (Rate{1, 3 * time.Second}) || half.POST != (Rate{2, 3 * time.Second}) || half.PUT != (Rate{1, 3 * time.Second}) {
		t.Errorf("half of bunq's limits: %+v", half)
	}
	// One call per 30 s cannot be halved in calls: the window doubles instead.
	if half.SessionServer != (Rate{1, 60 * time.Second}) {
		t.Errorf("half of session-server: %+v", half.SessionServer)
	}
	if DefaultLimits().Budget(1) != DefaultLimits() || DefaultLimits().Budget(0) != DefaultLimits() {
		t.Error("a budget of 1 (or none) changed the limits")
	}
}

func TestLimiterHalvesItsAllowanceAfterA429AndRecovers(t *testing.T) {
	t.Parallel()
	l := NewLimiter(Limits{GET: Rate{Calls: 3, Per: 100 * time.Millisecond}}, false)
	w := l.window("h", "GET")
	t0 := time.Now()
	w.cut(t0)
	if got := w.share(t0); got != 0.5 {
		t.Fatalf("allowance after a 429: %v, want 0.5", got)
	}
	if got := w.per(t0); got != 200*time.Millisecond {
		t.Errorf("window after a 429: %v, want 200ms", got)
	}
	w.cut(t0.Add(50 * time.Millisecond)) // the same window's other replies
	if got := w.share(t0.Add(50 * time.Millisecond)); got != 0.5 {
		t.Errorf("a second 429 in the same window cut again: %v", got)
	}
	if got := w.share(t0.Add(250 * time.Millisecond)); got != 0.75 {
		t.Errorf("allowance two windows on: %v, want 0.75", got)
	}
	w.cut(t0.Add(150 * time.Millisecond))
	if got := w.share(t0.Add(150 * time.Millisecond)); got != 0.3125 {
		t.Errorf("allowance after another 429 a window on: %v, want 0.3125", got)
	}
	if got := w.share(t0.Add(150*time.Millisecond + time.Second)); got != 1 {
		t.Errorf("allowance ten windows on: %v, want 1", got)
	}
	// A 429 in every window: halving and a window's growth settle at 1/8.
	for range 20 {
		w.cut(w.cutAt.Add(100 * time.Millisecond))
	}
	if got := w.share(w.cutAt); got < minAllowance || got > 0.126 {
		t.Errorf("allowance after a 429 in every window: %v, want about 1/8", got)
	}
}
