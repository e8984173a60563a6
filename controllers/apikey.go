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
		return &reasonError{reason: bunqv1alpha1.ReasonInvalidAPIKey,
			msg: "apiKeySecretRef names " + secret + "/" + tlsPrivateKey + ", a TLS private key; it is never read or sent: " +
				"point apiKeySecretRef at the Secret key that holds the bunq API key"}
	}
	return nil
}

// apiKeyFrom trims the value of an API key Secret (nil when the key is
// missing) and checks that it looks like a bunq API key (design.md Behaviour
// 10); the value never appears in a message.
func apiKeyFrom(secret, key string, value []byte) (string, error) {
	apiKey := strings.TrimSpace(string(value))
	switch {
	case apiKey == "":
		return "", &reasonError{reason: bunqv1alpha1.ReasonAPIKeyNotFound, msg: "Secret " + secret + " has no key " + key + " or it is empty"}
	case strings.Contains(apiKey, "-----BEGIN"):
		return "", notAnAPIKey(secret, key, "it holds a PEM block (a key or certificate)")
	case len(apiKey) > maxAPIKeyBytes:
		return "", tooLongAPIKey(secret, key)
	}
	for _, r := range apiKey {
		if r <= ' ' || r > '~' {
			return "", notAnAPIKey(secret, key, "it has white space or characters other than printable ASCII inside")
		}
	}
	return apiKey, nil
}

// tooLongAPIKey refuses a value over 256 bytes, whether read or too large to read.
func tooLongAPIKey(secret, key string) error {
	return notAnAPIKey(secret, key, "it is longer than 256 bytes")
}

func notAnAPIKey(secret, key, why string) error {
	return &reasonError{reason: bunqv1alpha1.ReasonInvalidAPIKey,
		msg: "Secret " + secret + " key " + key + " does not hold a bunq API key: " + why + "; it was not sent to bunq"}
}
