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

// Command cluster runs the single-node cluster of test/cluster with the bunq
// emulator, for a person to poke at with kubectl: it prints the KUBECONFIG
// and the emulator's URL, and stops everything on Ctrl-C.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pinq-dev/bunq-pinning-operator/test/cluster"
)

// apiKey is the sandbox key the emulator accepts; make its Secret with
// kubectl create secret generic bunq-api-key --from-literal=api-key=<it>.
const apiKey = "sandbox_local00000000000000000000000000000000000000000000000000"

func main() {
	root, err := filepath.Abs(".")
	if err == nil {
		err = run(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	c, err := cluster.Start(root)
	defer func() { _ = c.Stop(false) }()
	if err != nil {
		return err
	}
	if err := c.StartEmulator(apiKey); err != nil {
		return err
	}
	if err := c.ImportImage(filepath.Join(root, "bin", "images", "operator.tar")); err != nil {
		return err
	}
	fmt.Printf(`A single-node cluster is up (logs in %s).
  export KUBECONFIG=%s
  bunq emulator: %s (CA %s), API key %s
  operator image: localhost/bunq-pinning-operator:cluster-test (imported)
Ctrl-C stops everything and cleans the node up.
`, c.Dir, c.Kubeconfig, cluster.EmulatorURL(), c.CACert(), apiKey)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}
