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
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

const (
	endpointPins = "user/{userID}/certificate-pinned"
	endpointPin  = "user/{userID}/certificate-pinned/{id}"
)

// Pin is a chain pinned on bunq.
type Pin struct {
	ID int64
	// Chain holds the PEM certificates, glued with newlines, in the order pinned.
	Chain string
}

type certificatePinned struct {
	ID    int64      `json:"id"`
	Chain chainField `json:"certificate_chain"`
}

// chainField accepts both forms bunq has used: one string of glued PEMs, and
// (old SDKs) an array of {"certificate": "<PEM>"}.
type chainField string

func (c *chainField) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*c = chainField(s)
		return nil
	}
	var list []struct {
		Certificate string `json:"certificate"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return errors.New("certificate_chain is neither a string nor a list of certificates")
	}
	pems := make([]string, len(list))
	for i, l := range list {
		pems[i] = l.Certificate
	}
	*c = chainField(strings.Join(pems, "\n"))
	return nil
}

// CreatePin pins a chain of PEM certificates, leaf first, and returns its id.
// POST /user/{userID}/certificate-pinned
func (c *Client) CreatePin(ctx context.Context, pems []string) (int64, error) {
	if len(pems) == 0 {
		return 0, errors.New("bunq: a chain needs at least one certificate")
	}
	type certificate struct {
		Certificate string `json:"certificate"`
	}
	chain := make([]certificate, len(pems))
	for i, p := range pems {
		chain[i] = certificate{p}
	}
	body, err := json.Marshal(map[string]any{"certificate_chain": chain})
	if err != nil {
		return 0, err
	}
	raw, err := c.call(ctx, http.MethodPost, endpointPins, endpointPins, body)
	if err != nil {
		return 0, err
	}
	return decodeID(raw, endpointPins)
}

// ListPins returns every pinned chain, newest first, following the
// pages to the end.
// GET /user/{userID}/certificate-pinned
func (c *Client) ListPins(ctx context.Context) ([]Pin, error) {
	var pins []Pin
	err := c.listAll(ctx, endpointPins, addPin(&pins))
	return pins, err
}

// addPin decodes a listing's entry into pins.
func addPin(pins *[]Pin) func(it items, i int) error {
	return func(it items, i int) error {
		var p certificatePinned
		if err := it.field(i, "CertificatePinned", &p); err != nil {
			return err
		}
		*pins = append(*pins, Pin{ID: p.ID, Chain: string(p.Chain)})
		return nil
	}
}

// GetPin reads one pinned chain.
// GET /user/{userID}/certificate-pinned/{id}
func (c *Client) GetPin(ctx context.Context, id int64) (Pin, error) {
	raw, err := c.call(ctx, http.MethodGet, pinPath(id), endpointPin, nil)
	if err != nil {
		return Pin{}, err
	}
	it, err := decodeResponse(raw, endpointPin, 1)
	if err != nil {
		return Pin{}, err
	}
	var p certificatePinned
	if err := it.field(0, "CertificatePinned", &p); err != nil {
		return Pin{}, err
	}
	return Pin{ID: p.ID, Chain: string(p.Chain)}, nil
}

// DeletePin removes a pinned chain. A chain that is already gone gives an
// error for which IsNotFound is true; callers treat that as done.
// DELETE /user/{userID}/certificate-pinned/{id}
func (c *Client) DeletePin(ctx context.Context, id int64) error {
	_, err := c.call(ctx, http.MethodDelete, pinPath(id), endpointPin, nil)
	return err
}

func pinPath(id int64) string {
	return endpointPins + "/" + strconv.FormatInt(id, 10)
}
