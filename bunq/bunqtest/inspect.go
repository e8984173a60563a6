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

package bunqtest

import (
	"slices"
	"strings"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// What tests read of the emulator, and what they do as the user in the bunq
// app would: counts, requests, pins, sessions and keys.

// Count returns how many calls reached an endpoint with a method, faults and
// refusals included.
func (s *Server) Count(method, endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+endpoint]
}

// Counts returns the calls per "METHOD endpoint".
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Requests returns every call received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// StatusCount returns how many replies had the given status.
func (s *Server) StatusCount(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Status == status {
			n++
		}
	}
	return n
}

// Statuses returns how many replies had each HTTP status (0: connection reset).
func (s *Server) Statuses() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for _, r := range s.requests {
		out[r.Status]++
	}
	return out
}

// ResetCounters forgets the calls received so far.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.counts = map[string]int{}
}

// Pins returns the chains pinned for the user of an API key, newest first.
func (s *Server) Pins(apiKey string) []bunq.Pin {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[apiKey]
	if key == nil {
		return nil
	}
	var out []bunq.Pin
	for _, p := range s.userPins(key.userID) {
		out = append(out, bunq.Pin{ID: p.id, Chain: p.chain})
	}
	return out
}

// PinOutOfBand pins a chain as the user would in the bunq app.
func (s *Server) PinOutOfBand(apiKey string, pems ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[apiKey]
	if key == nil {
		return 0
	}
	return s.addPin(key.userID, pems)
}

// UnpinOutOfBand removes a pin as the user would in the app; false when it did not exist.
func (s *Server) UnpinOutOfBand(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pins[id]
	delete(s.pins, id)
	return ok
}

// UserID returns the user id behind an API key.
func (s *Server) UserID(apiKey string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key := s.keys[apiKey]; key != nil {
		return key.userID
	}
	return 0
}

// ExpireSessions ends every session, as bunq's auto-logout would.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.expiry = s.opts.Now()
	}
}

// ExpireUserSessions ends the sessions of one bunq user's keys.
func (s *Server) ExpireUserSessions(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.key.userID == userID {
			sess.expiry = s.opts.Now()
		}
	}
}

// RevokeAPIKey makes a key unknown, as deleting it in the bunq app does: its
// sessions end and new ones are refused with the credentials error.
func (s *Server) RevokeAPIKey(apiKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key := s.keys[apiKey]; key != nil {
		key.revoked = true
	}
}

// Handshakes counts the device-server and session-server calls made with an
// API key, accepted or not.
func (s *Server) Handshakes(apiKey string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (r.Endpoint == EndpointSession || r.Endpoint == EndpointDeviceServer) && strings.Contains(string(r.Body), apiKey) {
			n++
		}
	}
	return n
}

// RevokeInstallations rejects every installation token from now on.
func (s *Server) RevokeInstallations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inst := range s.installations {
		inst.revoked = true
	}
}

// SetClientIP makes the emulator see every call as coming from ip; empty restores
// the real address.
func (s *Server) SetClientIP(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientIP = ip
}

// Secrets returns the API keys and every token handed out, to check they leak nowhere.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		out = append(out, k)
	}
	return append(out, s.issued...)
}

// ContainsAny reports whether text holds any of the secrets.
func ContainsAny(text string, secrets []string) bool {
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// SetNotificationFilters replaces the callbacks of the user of an API key, as
// the user would in the app: at user level when accountID is 0, else those of
// that monetary account. It says whether the user and account exist.
func (s *Server) SetNotificationFilters(apiKey string, accountID int64, filters ...NotificationFilter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[apiKey]
	if key == nil {
		return false
	}
	u := s.users[key.userID]
	set := &u.filters
	if accountID != 0 {
		a := u.account(accountID)
		if a == nil {
			return false
		}
		set = &a.filters
	}
	*set = slices.Clone(filters)
	return true
}

// AddMonetaryAccount opens another monetary account of a kind such as
// "MonetaryAccountSavings" for the user of an API key and returns its id; 0
// when the key is unknown.
func (s *Server) AddMonetaryAccount(apiKey, kind, status string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[apiKey]
	if key == nil {
		return 0
	}
	a := &monetaryAccount{id: s.newID(), kind: kind, status: status}
	u := s.users[key.userID]
	u.accounts = append(u.accounts, a)
	return a.id
}

// MonetaryAccounts returns the account ids of the user of an API key, oldest first.
func (s *Server) MonetaryAccounts(apiKey string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[apiKey]
	if key == nil {
		return nil
	}
	var ids []int64
	for _, a := range s.users[key.userID].accounts {
		ids = append(ids, a.id)
	}
	return ids
}
