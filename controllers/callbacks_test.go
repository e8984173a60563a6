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
	"testing"

	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

func TestMatchesName(t *testing.T) {
	names := []string{"hooks.example.com", "*.pay.example.com"}
	for host, want := range map[string]bool{
		"hooks.example.com":      true,
		"HOOKS.example.com.":     true, // case and a trailing dot do not matter
		"a.pay.example.com":      true,
		"pay.example.com":        false, // a wildcard needs a label
		"a.b.pay.example.com":    false, // and covers exactly one
		"hooks.example.com.evil": false,
		"other.example.com":      false,
	} {
		if got := matchesName(host, names); got != want {
			t.Errorf("matchesName(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestHTTPSTargets(t *testing.T) {
	got := httpsTargets([]bunq.NotificationFilter{
		{Category: "PAYMENT", Target: "https://b.example.com/cb"},
		{Category: "MUTATION", Target: "https://a.example.com:8443/cb"},
		{Category: "REQUEST", Target: "https://b.example.com/cb"}, // the same URL for another category
		{Category: "CHAT", Target: "http://plain.example.com/cb"}, // bunq pins only https
		{Category: "SHARE", Target: "not a url"},
	})
	var urls []string
	for _, u := range got {
		urls = append(urls, u.String())
	}
	if len(urls) != 2 || urls[0] != "https://a.example.com:8443/cb" || urls[1] != "https://b.example.com/cb" {
		t.Errorf("targets %v", urls)
	}
	if hostPort(got[0]) != "a.example.com:8443" || hostPort(got[1]) != "b.example.com:443" {
		t.Errorf("dial addresses %s, %s", hostPort(got[0]), hostPort(got[1]))
	}
}
