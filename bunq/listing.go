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
	"strconv"
	"strings"
)

const (
	// pageSize is the largest page bunq serves.
	pageSize = 200
	// maxPages stops a listing whose pages never end.
	maxPages = 10000
)

// listAll reads every page of a listing, newest first, following older_url
// to the end, and hands each entry to add.
func (c *Client) listAll(ctx context.Context, endpoint string, add func(it items, i int) error) error {
	return c.listPages(ctx, endpoint, endpoint, add)
}

// listPages is listAll for a path that differs from its template.
func (c *Client) listPages(ctx context.Context, path, endpoint string, add func(it items, i int) error) error {
	path += "?count=" + strconv.Itoa(pageSize)
	seen := map[string]bool{}
	for page := 0; path != ""; page++ {
		if page == maxPages || seen[path] {
			return &DecodeError{Endpoint: endpoint, Reason: "pagination does not end"}
		}
		seen[path] = true
		raw, err := c.call(ctx, http.MethodGet, path, endpoint, nil)
		if err != nil {
			return err
		}
		if path, err = decodePage(raw, endpoint, add); err != nil {
			return err
		}
	}
	return nil
}

// decodePage reads one page: each entry through add, and the path of the
// next (older) page, empty at the end.
func decodePage(raw []byte, endpoint string, add func(it items, i int) error) (string, error) {
	env, err := decodeEnvelope(raw, endpoint)
	if err != nil {
		return "", err
	}
	for i := range env.Response {
		if err := add(env.Response, i); err != nil {
			return "", err
		}
	}
	return nextPage(env, endpoint)
}

// nextPage is the path of the older page; empty at the end.
func nextPage(env *envelope, endpoint string) (string, error) {
	if env.Pagination == nil || env.Pagination.OlderURL == nil || len(env.Response) == 0 {
		return "", nil
	}
	return relativePath(*env.Pagination.OlderURL, endpoint)
}

// relativePath turns bunq's "/v1/user/1/certificate-pinned?older_id=5" into a path
// relative to the base URL, so a base URL with a prefix keeps working.
func relativePath(u, endpoint string) (string, error) {
	const prefix = "/v1/"
	i := strings.Index(u, prefix)
	if i < 0 {
		return "", &DecodeError{Endpoint: endpoint, Reason: fmt.Sprintf("pagination URL %q lacks /v1/", u)}
	}
	return u[i+len(prefix):], nil
}
