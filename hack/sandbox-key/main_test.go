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

package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// The printed manifest is a Secret whose key bunq (the emulator) accepts.
func TestPrintsAWorkingSandboxKeySecret(t *testing.T) {
	emu, err := bunqtest.New(bunqtest.Options{DisableRateLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--url", srv.URL + "/v1", "--namespace", "team-a"}, &out); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{}
	if err := yaml.UnmarshalStrict(out.Bytes(), secret); err != nil {
		t.Fatalf("not a Secret manifest: %v\n%s", err, out.String())
	}
	key := secret.StringData["api-key"]
	if secret.Kind != "Secret" || secret.Name != "bunq-api-key" || secret.Namespace != "team-a" || !strings.HasPrefix(key, "sandbox_") {
		t.Fatalf("unexpected manifest:\n%s", out.String())
	}
	c, err := bunq.New(bunq.Options{BaseURL: srv.URL + "/v1", APIKey: key, Limiter: bunq.NewLimiter(bunq.Limits{}, false)})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.UserID(context.Background()); err != nil || id != emu.UserID(key) {
		t.Fatalf("the printed key does not open a session: %d, %v", id, err)
	}
}

func TestRefusesAHostWithoutSandboxUsers(t *testing.T) {
	emu, err := bunqtest.New(bunqtest.Options{DisableRateLimits: true, Production: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--url", srv.URL + "/v1"}, &out); err == nil || out.Len() > 0 {
		t.Fatalf("got %v and %q; want an error and no manifest", err, out.String())
	}
}
