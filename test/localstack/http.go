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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

// GetJSON fetches url and decodes its JSON body into into.
func GetJSON(ctx context.Context, url string, into any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	if into != nil {
		err = json.Unmarshal(body, into)
	}
	return body, err
}

// BunqPins returns what the emulator holds, as bunq would show it in the app.
func (s *Stack) BunqPins(ctx context.Context) ([]bunqtest.AdminPin, error) {
	var pins []bunqtest.AdminPin
	_, err := GetJSON(ctx, s.BunqURL+"/_emulator/pins", &pins)
	return pins, err
}
