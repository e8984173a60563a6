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

// Command sandbox-key makes a new bunq sandbox user and prints a Secret that
// holds its API key, ready for kubectl:
//
//	go run ./hack/sandbox-key --namespace payments | kubectl apply -f -
//
// The key is printed on standard output only, never logged.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox-key:", err)
		os.Exit(1)
	}
}

// sandboxURL is bunq's public sandbox, unless BUNQ_SANDBOX_URL names another
// (the emulator, in the docs test).
func sandboxURL() string {
	if u := os.Getenv("BUNQ_SANDBOX_URL"); u != "" {
		return u
	}
	return "https://public-api.sandbox.bunq.com/v1"
}

func run(ctx context.Context, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("sandbox-key", flag.ContinueOnError)
	url := flags.String("url", sandboxURL(), "bunq sandbox API root (default from $BUNQ_SANDBOX_URL when set)")
	namespace := flags.String("namespace", "payments", "namespace of the Secret")
	name := flags.String("name", "bunq-api-key", "name of the Secret")
	key := flags.String("key", "api-key", "data key of the Secret (apiKeySecretRef.key)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	// One call: no need to wait out windows a previous process might have used.
	c, err := bunq.New(bunq.Options{BaseURL: *url, UserAgent: "bunq-pinning-operator-sandbox-key/1",
		Limiter: bunq.NewLimiter(bunq.DefaultLimits(), false)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	apiKey, err := c.CreateSandboxUser(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, `apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
type: Opaque
stringData:
  # a bunq sandbox key: use it with environment: Sandbox
  %s: %s
`, *name, *namespace, *key, apiKey)
	return err
}
