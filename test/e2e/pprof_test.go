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

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// TestPprofServesProfilesWhenAsked: --pprof-bind-address serves Go's
// profiles, as docs/configuration.md and docs/benchmarks.md say.
func TestPprofServesProfilesWhenAsked(t *testing.T) {
	s, addr := operatorServing(t, "--pprof-bind-address")
	var body []byte
	var getErr error
	if localstack.Poll(200*time.Millisecond, 30*time.Second, func() bool {
		body, getErr = localstack.GetJSON(t.Context(), "http://"+addr+"/debug/pprof/cmdline", nil)
		return getErr == nil
	}) != nil {
		t.Fatalf("no profiles on %s: %v (log %s)", addr, getErr, s.Log("manager"))
	}
	if !strings.Contains(string(body), "--pprof-bind-address") {
		t.Fatalf("/debug/pprof/cmdline is %q, not the manager's command line", body)
	}
}
