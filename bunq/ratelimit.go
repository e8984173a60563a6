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
	"net/http"
	"strings"
	"sync"
	"time"
)

// Rate is a rolling-window limit: at most Calls calls in any Per.
type Rate struct {
	Calls int
	Per   time.Duration
}

// Limits are bunq's request limits per IP.
type Limits struct {
	GET, POST, PUT, DELETE Rate
	// SessionServer applies to POST /session-server on top of nothing else.
	SessionServer Rate
}

// DefaultLimits are bunq's published limits. DELETE is undocumented; bunq's own
// community client assumes the POST figure, and so do we.
func DefaultLimits() Limits {
	return Limits{
		GET:           Rate{3, 3 * time.Second},
		POST:          Rate{5, 3 * time.Second},
		PUT:           Rate{2, 3 * time.Second},
		DELETE:        Rate{5, 3 * time.Second},
		SessionServer: Rate{1, 30 * time.Second},
	}
}

// Scaled returns the limits with every window divided by factor, for emulators
// that run time faster.
func (l Limits) Scaled(factor float64) Limits {
	if factor <= 0 {
		return l
	}
	s := func(r Rate) Rate { return Rate{r.Calls, time.Duration(float64(r.Per) / factor)} }
	return Limits{s(l.GET), s(l.POST), s(l.PUT), s(l.DELETE), s(l.SessionServer)}
}

// Budget returns the share of the limits one process may use when another
// client leaves bunq through the same IP: the calls of each window times
// fraction, rounded down, so that within any window this process and a client
// that keeps to the rest never exceed bunq's limit together. A window that
// would keep no call (session-server's one) keeps one and lasts longer
// instead. A fraction outside (0, 1) leaves the limits as they are.
func (l Limits) Budget(fraction float64) Limits {
	if fraction <= 0 || fraction >= 1 {
		return l
	}
	share := func(r Rate) Rate {
		if r.Calls <= 0 {
			return r
		}
		if n := int(float64(r.Calls) * fraction); n >= 1 {
			return Rate{n, r.Per}
		}
		return Rate{1, time.Duration(float64(r.Per) / (float64(r.Calls) * fraction))}
	}
	return Limits{share(l.GET), share(l.POST), share(l.PUT), share(l.DELETE), share(l.SessionServer)}
}

// rate is the limit of a bucket: a method ("GET"), a method and a handshake
// endpoint ("POST installation"), or session-server.
func (l Limits) rate(bucket string) Rate {
	method, _, _ := strings.Cut(bucket, " ")
	switch method {
	case http.MethodGet:
		return l.GET
	case http.MethodPost:
		return l.POST
	case http.MethodPut:
		return l.PUT
	case http.MethodDelete:
		return l.DELETE
	case bucketSessionServer:
		return l.SessionServer
	}
	return Rate{}
}

const bucketSessionServer = "session-server"

// Priority orders callers waiting for the same window: higher goes first.
type Priority int

const (
	PriorityLow Priority = iota - 1
	PriorityNormal
	PriorityHigh
)

type priorityKey struct{}

// WithPriority marks the calls made with ctx, so an urgent one (a renewed
// certificate) is not queued behind routine ones (first pins, resyncs).
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// Limiter keeps a process under bunq's limits, per host and per method. bunq
// counts per endpoint; the limiter counts every user-scoped call of a method
// together (safe whatever bunq means by an endpoint) and gives the handshake
// endpoints, used once per API key, windows of their own so a new key does not
// eat into the pins' budget. Share one across every Client of a process: bunq
// counts per IP, not per API key.
type Limiter struct {
	limits    Limits
	startFull bool
	started   time.Time

	mu      sync.Mutex
	windows map[string]*window
}

// NewLimiter makes a limiter. With startFull each window starts as if it had just
// been used up, so a restarted process cannot earn a 429 for its predecessor's
// calls. The session-server window always starts empty: a restart reuses the
// stored session, and a first session should not wait 30 s.
func NewLimiter(limits Limits, startFull bool) *Limiter {
	return &Limiter{limits: limits, startFull: startFull, started: time.Now(), windows: map[string]*window{}}
}

func (l *Limiter) window(host, bucket string) *window {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := host + " " + bucket
	w, ok := l.windows[key]
	if !ok {
		w = &window{rate: l.limits.rate(bucket), allowance: 1, changed: make(chan struct{})}
		if l.startFull && bucket != bucketSessionServer {
			// Full as of the process start, not of the first call.
			for range w.rate.Calls {
				w.done = append(w.done, l.started)
			}
		}
		l.windows[key] = w
	}
	return w
}

// acquire waits for a free slot and returns the function that marks the call done.
// A call holds its slot until its reply arrives and counts from then on: bunq saw
// it at some time before that, so the window is never shorter than bunq's.
func (l *Limiter) acquire(ctx context.Context, host, bucket string) (func(), error) {
	if l == nil {
		return func() {}, nil
	}
	w := l.window(host, bucket)
	if w.rate.Calls <= 0 {
		return func() {}, nil
	}
	return w.acquire(ctx, priorityOf(ctx))
}

type waiter struct {
	priority Priority
	seq      uint64
}

// After a 429 the limiter did not expect (someone else spent the window) a
// window's allowance halves, down to minAllowance, and grows back by
// allowanceStep for each window that passes without another.
const (
	minAllowance  = 1.0 / 16
	allowanceStep = 1.0 / 8
)

type window struct {
	rate Rate

	// allowance is the share of rate in use since cutAt (1 until a 429).
	allowance float64
	cutAt     time.Time

	mu       sync.Mutex
	done     []time.Time // completion times still inside the window, oldest first
	inFlight int
	waiters  []*waiter
	seq      uint64
	changed  chan struct{} // closed and replaced whenever a slot may have freed
}

func (w *window) acquire(ctx context.Context, p Priority) (func(), error) {
	w.mu.Lock()
	w.seq++
	me := &waiter{priority: p, seq: w.seq}
	w.waiters = append(w.waiters, me)
	for {
		now := time.Now()
		w.prune(now)
		var timer *time.Timer
		var wake <-chan time.Time
		if w.first() == me {
			at, known := w.freeAt(now)
			if known && !at.After(now) {
				w.remove(me)
				w.inFlight++
				w.broadcast()
				w.mu.Unlock()
				return w.release, nil
			}
			if known {
				timer = time.NewTimer(at.Sub(now))
				wake = timer.C
			}
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			w.mu.Lock()
			w.remove(me)
			w.broadcast()
			w.mu.Unlock()
			return nil, ctx.Err()
		case <-changed:
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		w.mu.Lock()
	}
}

// throttled records that bunq answered 429 for a bucket.
func (l *Limiter) throttled(host, bucket string) {
	if l == nil {
		return
	}
	w := l.window(host, bucket)
	if w.rate.Calls <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cut(time.Now())
}

// Allowance is the share of bunq's limit a bucket uses now: 1 until bunq
// answers 429 despite the limiter.
func (l *Limiter) Allowance(host, bucket string) float64 {
	w := l.window(host, bucket)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.share(time.Now())
}

// share is the allowance now: the one set at the last cut, grown back step
// by step for each window since.
func (w *window) share(now time.Time) float64 {
	if w.allowance >= 1 {
		return 1
	}
	grown := w.allowance + allowanceStep*float64(now.Sub(w.cutAt)/w.rate.Per)
	return min(grown, 1)
}

// cut halves the allowance, once per window: the replies of calls in flight
// together are one sign, not several.
func (w *window) cut(now time.Time) {
	if w.allowance < 1 && now.Sub(w.cutAt) < w.rate.Per {
		return
	}
	w.allowance, w.cutAt = max(w.share(now)/2, minAllowance), now
	w.broadcast()
}

// per is how long a call counts against the window now.
func (w *window) per(now time.Time) time.Duration {
	return time.Duration(float64(w.rate.Per) / w.share(now))
}

func (w *window) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	w.done = append(w.done, time.Now())
	w.broadcast()
}

func (w *window) prune(now time.Time) {
	i := 0
	per := w.per(now)
	for i < len(w.done) && now.Sub(w.done[i]) >= per {
		i++
	}
	w.done = w.done[i:]
}

// freeAt tells when the next slot frees; known is false while only calls in
// flight hold the window (their completion will announce itself).
func (w *window) freeAt(now time.Time) (at time.Time, known bool) {
	used := w.inFlight + len(w.done)
	if used < w.rate.Calls {
		return now, true
	}
	i := used - w.rate.Calls // expiring done[0..i] frees one slot
	if i >= len(w.done) {
		return time.Time{}, false
	}
	return w.done[i].Add(w.per(now)), true
}

func (w *window) first() *waiter {
	var best *waiter
	for _, c := range w.waiters {
		if best == nil || c.priority > best.priority || c.priority == best.priority && c.seq < best.seq {
			best = c
		}
	}
	return best
}

func (w *window) remove(me *waiter) {
	for i, c := range w.waiters {
		if c == me {
			w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
			return
		}
	}
}

func (w *window) broadcast() {
	close(w.changed)
	w.changed = make(chan struct{})
}
