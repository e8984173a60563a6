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
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// The actual side of a bunq user's pin set: what bunq holds, as last listed.

// userPins is what bunq holds for one user: as last listed, plus this
// process's own pins and unpins since.
type userPins struct {
	mu       sync.Mutex
	pins     map[int64]string // id → fingerprint; nil until listed
	listedAt time.Time
}

// lister reads a user's pins; an account does it.
type lister interface {
	list(ctx context.Context) (map[int64]string, error)
}

// refresh makes sure the list was read from bunq after notBefore, listing the
// pins (⌈N/200⌉ GETs) when it was not, and returns when it was read. One list
// serves every resource of the user.
func (u *userPins) refresh(ctx context.Context, acc lister, notBefore, now time.Time) (time.Time, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pins != nil && u.listedAt.After(notBefore) {
		return u.listedAt, nil
	}
	pins, err := acc.list(ctx)
	if err != nil {
		return time.Time{}, err
	}
	u.pins, u.listedAt = pins, now
	return now, nil
}

// lookup returns the fingerprint of a pin in the list.
func (u *userPins) lookup(id int64) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fp, ok := u.pins[id]
	return fp, ok
}

// withFingerprint returns the pins of a chain, newest first.
func (u *userPins) withFingerprint(fp string) []int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ids []int64
	for id, f := range u.pins {
		if f == fp {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) })
	return ids
}

// pick chooses the pin of a chain to adopt: one another resource already
// records, so that the chain keeps one id, else the newest; 0 when there is none.
func (u *userPins) pick(fp string, shared map[int64]bool) int64 {
	ids := u.withFingerprint(fp)
	for _, id := range ids {
		if shared[id] {
			return id
		}
	}
	if len(ids) > 0 {
		return ids[0]
	}
	return 0
}

func (u *userPins) added(id int64, fp string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pins != nil {
		u.pins[id] = fp
	}
}

func (u *userPins) removed(id int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.pins, id)
}
