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

package bunq

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// SandboxKeyPrefix starts every sandbox API key; production keys lack it.
const SandboxKeyPrefix = "sandbox_"

// CreateSandboxUser makes a new user on bunq's sandbox and returns its API
// key. It needs no installation and no key, so any client will do, one made
// without an API key included; its base URL must be the sandbox's.
// POST /sandbox-user-person
func (c *Client) CreateSandboxUser(ctx context.Context) (string, error) {
	raw, err := c.send(ctx, request{method: http.MethodPost, path: "sandbox-user-person", endpoint: "sandbox-user-person",
		body: []byte("{}"), bucket: "POST sandbox-user-person"})
	if err != nil {
		return "", err
	}
	items, err := decodeResponse(raw, "sandbox-user-person", 1)
	if err != nil {
		return "", err
	}
	var key struct {
		APIKey string `json:"api_key"`
	}
	if err := items.field(0, "ApiKey", &key); err != nil {
		return "", err
	}
	if !strings.HasPrefix(key.APIKey, SandboxKeyPrefix) {
		return "", fmt.Errorf("bunq: POST /sandbox-user-person: the reply holds no sandbox API key; is %s bunq's sandbox?", c.base)
	}
	return key.APIKey, nil
}
