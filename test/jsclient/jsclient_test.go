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

// Package jsclient runs a bunq client written by someone else,
// @bunq-community/bunq-js-client, against hack/bunq-emulator: the emulator
// must speak the protocol as bunq does, not only as this project's client
// expects it.
package jsclient

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
	"github.com/pinq-dev/bunq-pinning-operator/test/localstack"
)

const apiKey = "sandbox_jsclient0123456789abcdef"

type seen struct {
	UserType string  `json:"userType"`
	UserID   int64   `json:"userId"`
	Pinned   int64   `json:"pinned"`
	Listed   []int64 `json:"listed"`
	Left     int     `json:"left"`
}

func TestCommunityClientAgainstTheEmulator(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	emulator := filepath.Join(root, "bin", "bunq-emulator")
	if _, err := os.Stat(emulator); err != nil {
		t.Fatal("bin/bunq-emulator is missing: run `make emulator`")
	}
	installClient(t)
	url := startEmulator(t, emulator)

	chain := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(chain, []byte(bunqtest.CertificatePEM("hooks.example.com")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.js")
	// ENV_CI=false keeps the client verifying every reply signature.
	cmd.Env = append(os.Environ(), "ENV_CI=false", "BUNQ_URL="+url, "BUNQ_API_KEY="+apiKey, "CHAIN_FILE="+chain)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bunq-js-client: %v\n%s", err, out)
	}
	var got seen
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	if got.UserType != "UserPerson" || got.UserID == 0 {
		t.Errorf("getUsers gave %s %d, want a UserPerson", got.UserType, got.UserID)
	}
	if !slices.Contains(got.Listed, got.Pinned) || got.Left != 0 {
		t.Errorf("pin %d, listed %v, %d left after the unpin", got.Pinned, got.Listed, got.Left)
	}

	var counts map[string]int
	if _, err := localstack.GetJSON(ctx, url+"/_emulator/counts", &counts); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"POST installation", "POST device-server", "POST session-server", "GET user",
		"POST user/{userID}/certificate-pinned", "DELETE user/{userID}/certificate-pinned/{id}"} {
		if counts[call] == 0 {
			t.Errorf("the client made no %s call: %v", call, counts)
		}
	}
	var statuses map[string]int
	if _, err := localstack.GetJSON(ctx, url+"/_emulator/statuses", &statuses); err != nil {
		t.Fatal(err)
	}
	for status, n := range statuses {
		if status != "200" {
			t.Errorf("%d replies with status %s", n, status)
		}
	}
}

// installClient installs the pinned version of the client from the lock file.
func installClient(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("node_modules/@bunq-community/bunq-js-client"); err == nil {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
}

// startEmulator serves the emulator command on a free port and returns its root URL.
func startEmulator(t *testing.T, binary string) string {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd, err := localstack.Spawn(filepath.Join(t.TempDir(), "emulator.log"), binary, "--listen", addr, "--api-key", apiKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { localstack.Kill(cmd) })
	url := "http://" + addr
	err = localstack.Poll(50*time.Millisecond, 15*time.Second, func() bool {
		_, err := localstack.GetJSON(context.Background(), url+"/_emulator/counts", nil)
		return err == nil
	})
	if err != nil {
		t.Fatalf("the emulator did not come up: %v", err)
	}
	return url
}
