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
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

// operatorServing starts a control plane with the emulator and the CRD, and
// the operator with flag set to a free loopback address, which it returns.
func operatorServing(t *testing.T, flag string, extraArgs ...string) (*localstack.Stack, string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	s, err := localstack.Start(localstack.Options{Root: root, APIKeys: []string{apiKey}, InstallCRD: true})
	t.Cleanup(func() { _ = s.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := s.StartOperator(append([]string{flag, addr}, extraArgs...)...); err != nil {
		t.Fatal(err)
	}
	return s, addr
}
