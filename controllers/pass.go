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
	"time"

	"github.com/go-logr/logr"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// pass is one reconcile of one resource: the object as read, the object being
// changed, and what the pass has decided.
type pass struct {
	r         *BunqPinnedCertificateReconciler
	obj       *bunqv1alpha1.BunqPinnedCertificate
	orig      *bunqv1alpha1.BunqPinnedCertificate
	log       logr.Logger
	now       time.Time
	user      userKey // the bunq user of the API key, once resolved
	gone      bool    // the object was released for deletion; nothing to write
	conflict  bool    // the pass met a newer version of the resource
	announced bool    // a pin event was emitted; Ready=True needs no event of its own
}
