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

package controllers

import (
	"strings"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// maxAPIKeyBytes bounds an API key; bunq's are 64 characters.
const maxAPIKeyBytes = 256

// tlsPrivateKey is the data key of a TLS Secret's private key: never an API key.
const tlsPrivateKey = "tls.key"

// checkAPIKeyRef refuses a reference that can only be a mistake, before the
// value is read: tls.key holds a TLS private key.
func checkAPIKeyRef(secret, key string) error {
	if key == tlsPrivateKey {
		return &inputError{reason: bunqv1alpha1.ReasonInvalidAPIKey,
			msg: "apiKeySecretRef names " + secret + "/" + tlsPrivateKey + ", a TLS private key; it is never read or sent: " +
				"point apiKeySecretRef at the Secret key that holds the bunq API key"}
	}
	return nil
}

// apiKeyFrom trims the value of an API key Secret and checks that it looks like
// a bunq API key (design.md Behaviour 10); the value never appears in a message.
func apiKeyFrom(secret, key string, value []byte) (string, error) {
	where := "Secret " + secret + " key " + key
	apiKey := strings.TrimSpace(string(value))
	bad := func(why string) error {
		return &inputError{reason: bunqv1alpha1.ReasonInvalidAPIKey,
			msg: where + " does not hold a bunq API key: " + why + "; it was not sent to bunq"}
	}
	switch {
	case apiKey == "":
		return "", &inputError{reason: bunqv1alpha1.ReasonAPIKeyNotFound, msg: "Secret " + secret + " has no key " + key + " or it is empty"}
	case strings.Contains(apiKey, "-----BEGIN"):
		return "", bad("it holds a PEM block (a key or certificate)")
	case len(apiKey) > maxAPIKeyBytes:
		return "", bad("it is longer than 256 bytes")
	}
	for _, r := range apiKey {
		if r <= ' ' || r > '~' {
			return "", bad("it has white space or characters other than printable ASCII inside")
		}
	}
	return apiKey, nil
}
