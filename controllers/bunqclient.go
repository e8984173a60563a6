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

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// The seam between the controller and bunq: the controller defines what it
// needs, main supplies *bunq.Client, and the specs could supply another.

// BunqClient is what the controller needs from bunq; *bunq.Client has it.
type BunqClient interface {
	// HasSession says whether calls can go without opening a session first.
	HasSession() bool
	UserID(ctx context.Context) (int64, error)
	CreatePin(ctx context.Context, pems []string) (int64, error)
	ListPins(ctx context.Context) ([]bunq.Pin, error)
	DeletePin(ctx context.Context, id int64) error
	ListMonetaryAccounts(ctx context.Context) ([]bunq.MonetaryAccount, error)
	ListNotificationFilters(ctx context.Context, accountID int64) ([]bunq.NotificationFilter, error)
}

var _ BunqClient = &bunq.Client{}

// ClientFactory makes a client for an environment and API key, persisting its
// API context in store. main builds the real one; only main knows bunq's URLs.
type ClientFactory func(env bunqv1alpha1.Environment, apiKey string, store bunq.ContextStore) (BunqClient, error)
