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
	"testing"

	"github.com/go-logr/logr"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// TestShutdownIsNotAFailure: a pass cut off by the manager's stop reports
// nothing: "context canceled" is not something bunq said.
func TestShutdownIsNotAFailure(t *testing.T) {
	p := &pass{r: &BunqPinnedCertificateReconciler{}, obj: &bunqv1alpha1.BunqPinnedCertificate{}, log: logr.Discard()}
	_, err := p.fail(fmt.Errorf("bunq: GET /user/1/certificate-pinned: %w", context.Canceled))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("the error was not returned: %v", err)
	}
	if len(p.obj.Status.Conditions) != 0 {
		t.Errorf("a shutdown was reported as %+v", p.obj.Status.Conditions)
	}
}
