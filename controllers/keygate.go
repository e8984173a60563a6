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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Backoff of a key bunq refused: 30 s doubling to 30 min (design.md Behaviour 9).
const (
	DefaultRefusedKeyBackoff = 30 * time.Second
	refusedKeyBackoffFactor  = 60 // the longest wait is this many first waits
)

// keyGate remembers that bunq refused an API key (credentials, IP or
// authorisation), so that a broken tenant's resources report the refusal
// without calling bunq: they would spend the session-server window of one
// call per 30 s per IP, and the workers, that healthy tenants need. Until a
// call has shown that the key works, one call at a time goes through and the
// others wait for its outcome; after a refusal, one call per backoff period.
type keyGate struct {
	clock clock.PassiveClock
	first time.Duration

	mu      sync.Mutex
	proven  bool          // a call succeeded since the last refusal
	refused error         // bunq's last refusal
	until   time.Time     // no call before then
	delay   time.Duration // the current wait
	probe   chan struct{} // closed when the call in flight has its outcome
}

// refusedError is a refusal remembered: its reason is bunq's.
type refusedError struct {
	err   error
	until time.Time
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%v (bunq refused this key; it is tried again at %s, or at once when the key's value changes)",
		e.err, e.until.UTC().Format(time.RFC3339))
}

func (e *refusedError) Unwrap() error { return e.err }

// retryAt is when a remembered refusal may be tried again; zero for other errors.
func retryAt(err error) time.Time {
	var re *refusedError
	if errors.As(err, &re) {
		return re.until
	}
	return time.Time{}
}

// do runs call unless the key is known to be refused.
func (g *keyGate) do(ctx context.Context, call func() error) error {
	probe, err := g.enter(ctx)
	if err != nil {
		return err
	}
	err = call()
	g.leave(probe, err)
	return err
}

func (g *keyGate) enter(ctx context.Context) (probe bool, err error) {
	for {
		g.mu.Lock()
		switch {
		case g.proven:
			g.mu.Unlock()
			return false, nil
		case g.probe != nil:
			wait := g.probe
			g.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return false, ctx.Err()
			}
		case g.refused != nil && g.now().Before(g.until):
			err := &refusedError{err: g.refused, until: g.until}
			g.mu.Unlock()
			return false, err
		default:
			g.probe = make(chan struct{})
			g.mu.Unlock()
			return true, nil
		}
	}
}

func (g *keyGate) leave(probe bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case bunq.IsKeyRefused(err):
		g.proven = false
		if g.refused != nil && g.now().Before(g.until) {
			break // calls in flight together: one refusal, one step of backoff
		}
		g.delay = min(max(2*g.delay, g.base()), refusedKeyBackoffFactor*g.base())
		g.refused, g.until = err, g.now().Add(g.delay)
	case err == nil:
		g.proven, g.refused, g.delay = true, nil, 0
	}
	// Any other error (bunq down, a timeout) says nothing about the key.
	if probe {
		close(g.probe)
		g.probe = nil
	}
}

func (g *keyGate) base() time.Duration {
	if g.first > 0 {
		return g.first
	}
	return DefaultRefusedKeyBackoff
}

func (g *keyGate) now() time.Time {
	if g.clock != nil {
		return g.clock.Now()
	}
	return time.Now()
}
