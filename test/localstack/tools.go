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

package localstack

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// Kubectl is the kubectl the tests run: $KUBECTL (make sets it, to one built
// into bin/ on machines without one), else the one on PATH.
func Kubectl() string {
	if k := os.Getenv("KUBECTL"); k != "" {
		return k
	}
	if k, err := exec.LookPath("kubectl"); err == nil {
		return k
	}
	return "kubectl"
}

// Make runs a make target of the repository at root against the cluster of
// kubeconfig, with the tests' kubectl, and returns its output.
func Make(root, kubeconfig, target string) (string, error) {
	cmd := exec.Command("make", "-s", target)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECTL="+Kubectl())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// HoldsExactly says whether bunq's pins are exactly the wanted ids, each
// with the chain that starts with the wanted leaf (PEM).
func HoldsExactly(pins []bunqtest.AdminPin, want map[string]string) bool {
	if len(pins) != len(want) {
		return false
	}
	for _, p := range pins {
		leaf, ok := want[fmt.Sprint(p.ID)]
		if !ok || !strings.HasPrefix(p.Chain, strings.TrimSpace(leaf)) {
			return false
		}
	}
	return true
}

// Terminate stops a process started by Spawn as a graceful stop would:
// SIGTERM to its group, then SIGKILL after ten seconds.
func Terminate(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
