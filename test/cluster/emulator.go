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

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// The emulator runs in a network namespace of its own behind a veth pair, as
// bunq sits behind the internet: pods reach it through the node's routing and
// the bridge's masquerade, so every pod calls from one address, as behind a
// NAT gateway (bunq binds a key to the caller's IP).
const (
	emulatorNetns = "bunqtest-bunq"
	hostVeth      = "bunqtest-h"
	emulatorVeth  = "bunqtest-e"
	hostSide      = "10.99.0.1"
	EmulatorIP    = "10.99.0.2"
	emulatorPort  = "8443"
)

// EmulatorURL is the API root pods use.
func EmulatorURL() string { return "https://" + EmulatorIP + ":" + emulatorPort + "/v1" }

// CACert is the PEM file of the cluster's CA, which also signs the emulator's certificate.
func (c *Cluster) CACert() string { return c.ca.path("ca.crt") }

// StartEmulator serves the bunq emulator over https at EmulatorURL for the
// given API keys.
func (c *Cluster) StartEmulator(apiKeys ...string) error {
	c.netns = true
	for _, args := range [][]string{
		{"netns", "add", emulatorNetns},
		{"link", "add", hostVeth, "type", "veth", "peer", "name", emulatorVeth},
		{"link", "set", emulatorVeth, "netns", emulatorNetns},
		{"addr", "add", hostSide + "/30", "dev", hostVeth},
		{"link", "set", hostVeth, "up"},
		{"-n", emulatorNetns, "addr", "add", EmulatorIP + "/30", "dev", emulatorVeth},
		{"-n", emulatorNetns, "link", "set", emulatorVeth, "up"},
		{"-n", emulatorNetns, "link", "set", "lo", "up"},
		{"-n", emulatorNetns, "route", "add", "default", "via", hostSide},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if err := c.ca.issue("emulator", "bunq emulator", nil, EmulatorIP); err != nil {
		return err
	}
	var err error
	if c.emulator, err = c.httpClient(10 * time.Second); err != nil {
		return err
	}
	args := []string{"netns", "exec", emulatorNetns, filepath.Join(c.Root, "bin", "bunq-emulator"),
		"--listen", EmulatorIP + ":" + emulatorPort,
		"--tls-cert-file", c.ca.path("emulator.crt"), "--tls-key-file", c.ca.path("emulator.key")}
	for _, k := range apiKeys {
		args = append(args, "--api-key", k)
	}
	if err := c.spawn("bunq-emulator", "ip", args...); err != nil {
		return err
	}
	return waitFor(30*time.Second, func() error { return c.emulatorGet(context.Background(), "/_emulator/counts", nil) })
}

// BunqPins is what the emulator holds, as bunq would show it in the app.
func (c *Cluster) BunqPins(ctx context.Context) ([]bunqtest.AdminPin, error) {
	var pins []bunqtest.AdminPin
	return pins, c.emulatorGet(ctx, "/_emulator/pins", &pins)
}

func (c *Cluster) emulatorGet(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+EmulatorIP+":"+emulatorPort+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.emulator.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func removeEmulatorNetwork() {
	_ = exec.Command("ip", "link", "delete", hostVeth).Run()
	_ = exec.Command("ip", "netns", "delete", emulatorNetns).Run()
}
