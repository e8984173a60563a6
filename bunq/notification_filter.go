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
	"encoding/json"
	"net/http"
	"strconv"
)

// The callback URLs bunq calls: notification filters at user level and per
// monetary account, and the monetary-account listing that finds the latter.

const (
	endpointAccounts       = "user/{userID}/monetary-account"
	endpointUserFilters    = "user/{userID}/notification-filter-url"
	endpointAccountFilters = "user/{userID}/monetary-account/{id}/notification-filter-url"
)

// MonetaryAccount is one of the user's accounts.
type MonetaryAccount struct {
	ID int64
	// Type is the object bunq names it with, such as "MonetaryAccountBank".
	Type string
	// Status is "ACTIVE", "BLOCKED", "CANCELLED", ...
	Status string
}

// NotificationFilter is one callback: bunq calls Target for events of Category.
type NotificationFilter struct {
	Category string `json:"category"`
	Target   string `json:"notification_target"`
}

// ListMonetaryAccounts returns every monetary account of the user, newest first.
// GET /user/{userID}/monetary-account
func (c *Client) ListMonetaryAccounts(ctx context.Context) ([]MonetaryAccount, error) {
	var accounts []MonetaryAccount
	err := c.listAll(ctx, endpointAccounts, func(it items, i int) error {
		for kind, raw := range it[i] { // one key: the account's type
			var a struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				return &DecodeError{Endpoint: endpointAccounts, Reason: kind + ": " + err.Error()}
			}
			accounts = append(accounts, MonetaryAccount{ID: a.ID, Type: kind, Status: a.Status})
		}
		return nil
	})
	return accounts, err
}

// ListNotificationFilters returns the user's callbacks at user level when
// accountID is 0, else those of that monetary account.
// GET /user/{userID}/notification-filter-url
// GET /user/{userID}/monetary-account/{id}/notification-filter-url
func (c *Client) ListNotificationFilters(ctx context.Context, accountID int64) ([]NotificationFilter, error) {
	path, endpoint := endpointUserFilters, endpointUserFilters
	if accountID != 0 {
		path = endpointAccounts + "/" + strconv.FormatInt(accountID, 10) + "/notification-filter-url"
		endpoint = endpointAccountFilters
	}
	raw, err := c.call(ctx, http.MethodGet, path, endpoint, nil)
	if err != nil {
		return nil, err
	}
	// One page: bunq lists one filter per category.
	var filters []NotificationFilter
	if _, err := decodePage(raw, endpoint, func(it items, i int) error {
		var f NotificationFilter
		if err := it.field(i, "NotificationFilterUrl", &f); err != nil {
			return err
		}
		filters = append(filters, f)
		return nil
	}); err != nil {
		return nil, err
	}
	return filters, nil
}
