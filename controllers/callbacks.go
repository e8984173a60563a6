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
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Discovery of the callback URLs bunq calls for a user (design.md Behaviour
// 11): the notification filters at user level and of each active monetary
// account, read once per API context per resync and shared by every resource
// on the key.

// callbackList is a user's https callback URLs as last read.
type callbackList struct {
	mu     sync.Mutex
	urls   []*url.URL
	readAt time.Time // zero until read
}

// freshLocked says the URLs were read after notBefore.
func (l *callbackList) freshLocked(notBefore time.Time) bool {
	return !l.readAt.IsZero() && l.readAt.After(notBefore)
}

// callbackURLs returns the user's https callback URLs, read from bunq after
// notBefore: 1 + ⌈accounts/200⌉ + active accounts GETs when the last read is
// older, none otherwise.
func (acc *account) callbackURLs(ctx context.Context, notBefore, now time.Time) ([]*url.URL, error) {
	l := &acc.callbacks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.freshLocked(notBefore) {
		return l.urls, nil
	}
	ctx = bunq.WithPriority(ctx, bunq.PriorityLow)
	var filters []bunq.NotificationFilter
	err := acc.gate.do(ctx, func() error {
		var err error
		filters, err = readFilters(ctx, acc.client)
		return err
	})
	if err != nil {
		return nil, err
	}
	l.urls, l.readAt = httpsTargets(filters), now
	return l.urls, nil
}

// cachedCallbackURLs returns the URLs when they were read after notBefore,
// without calling bunq.
func (acc *account) cachedCallbackURLs(notBefore time.Time) ([]*url.URL, bool) {
	l := &acc.callbacks
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.urls, l.freshLocked(notBefore)
}

// readFilters reads the user's filters and those of each active account.
func readFilters(ctx context.Context, c BunqClient) ([]bunq.NotificationFilter, error) {
	filters, err := c.ListNotificationFilters(ctx, 0)
	if err != nil {
		return nil, err
	}
	accounts, err := c.ListMonetaryAccounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if a.Status != "ACTIVE" {
			continue // bunq sends no callbacks for a closed or blocked account
		}
		more, err := c.ListNotificationFilters(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		filters = append(filters, more...)
	}
	return filters, nil
}

// httpsTargets are the distinct https targets of filters, sorted.
func httpsTargets(filters []bunq.NotificationFilter) []*url.URL {
	seen := map[string]bool{}
	var out []*url.URL
	for _, f := range filters {
		u, err := url.Parse(f.Target)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || seen[u.String()] {
			continue
		}
		seen[u.String()] = true
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *url.URL) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// matchesName says whether host is one of the leaf's DNS names; a wildcard
// name covers exactly one label, as TLS clients match it.
func matchesName(host string, names []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range names {
		n = strings.ToLower(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
		}
	}
	return false
}
