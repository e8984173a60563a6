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
	"net/http"
	"net/url"
	"slices"
)

// The user, its monetary accounts and the notification filters that name the
// callback URLs bunq calls: user level and per monetary account.

// NotificationFilter is one callback: bunq calls Target for events of Category.
type NotificationFilter struct {
	Category string
	Target   string
}

type bunqUser struct {
	id       int64
	filters  []NotificationFilter
	accounts []*monetaryAccount // oldest first
}

type monetaryAccount struct {
	id      int64
	kind    string // MonetaryAccountBank, MonetaryAccountSavings, MonetaryAccountJoint
	status  string
	filters []NotificationFilter
}

// newUser makes a user with one active bank account, as a new bunq user has.
func (s *Server) newUser() int64 {
	u := &bunqUser{id: s.newID()}
	u.accounts = append(u.accounts, &monetaryAccount{id: s.newID(), kind: "MonetaryAccountBank", status: "ACTIVE"})
	s.users[u.id] = u
	return u.id
}

// GET /v1/user: the users the session acts for, each keyed by its type.
func (s *Server) listUsers(c call) reply {
	sess, rep, ok := s.sessionAuth(c)
	if !ok {
		return rep
	}
	return listReply(c, []int64{sess.key.userID}, func(int64) object { return s.user(sess.key, timestamp(s.opts.Now())) })
}

// GET /v1/user/{userID}
func (s *Server) readUser(c call) reply {
	sess, rep, ok := s.ownUser(c)
	if !ok {
		return rep
	}
	return okReply([]object{s.user(sess.key, timestamp(s.opts.Now()))})
}

// GET /v1/user/{userID}/monetary-account: newest first, paginated.
func (s *Server) listAccounts(c call) reply {
	if _, rep, ok := s.ownUser(c); !ok {
		return rep
	}
	u := s.users[c.args[0]]
	byID := map[int64]*monetaryAccount{}
	var ids []int64
	for _, a := range slices.Backward(u.accounts) {
		byID[a.id] = a
		ids = append(ids, a.id)
	}
	return listReply(c, ids, func(id int64) object {
		a := byID[id]
		return object{a.kind: object{"id": a.id, "status": a.status, "currency": "EUR", "description": "Emulated account"}}
	})
}

// GET and POST /v1/user/{userID}/notification-filter-url
func (s *Server) userFilters(c call) reply {
	if _, rep, ok := s.ownUser(c); !ok {
		return rep
	}
	return s.filters(c, &s.users[c.args[0]].filters)
}

// GET and POST /v1/user/{userID}/monetary-account/{accountID}/notification-filter-url
func (s *Server) accountFilters(c call) reply {
	if _, rep, ok := s.ownUser(c); !ok {
		return rep
	}
	a := s.users[c.args[0]].account(c.args[1])
	if a == nil {
		return errorReply(http.StatusNotFound, TextNotFound)
	}
	return s.filters(c, &a.filters)
}

func (u *bunqUser) account(id int64) *monetaryAccount {
	for _, a := range u.accounts {
		if a.id == id {
			return a
		}
	}
	return nil
}

// filters lists a set of filters, or (POST) replaces it and lists the new one.
func (s *Server) filters(c call, set *[]NotificationFilter) reply {
	if c.r.Method == http.MethodPost {
		var in struct {
			Filters []struct {
				Category string `json:"category"`
				Target   string `json:"notification_target"`
			} `json:"notification_filters"`
		}
		if !decode(c.body, &in) {
			return errorReply(http.StatusBadRequest, TextBadRequest)
		}
		next := make([]NotificationFilter, 0, len(in.Filters))
		for _, f := range in.Filters {
			if u, err := url.Parse(f.Target); err != nil || u.Scheme != "https" || u.Host == "" || f.Category == "" {
				return errorReply(http.StatusBadRequest, "The notification target must be an https URL.")
			}
			next = append(next, NotificationFilter{Category: f.Category, Target: f.Target})
		}
		*set = next
	}
	items := make([]object, len(*set))
	for i, f := range *set {
		items[i] = object{"NotificationFilterUrl": object{"category": f.Category, "notification_target": f.Target}}
	}
	return okReply(items)
}
