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

// Command bunq-emulator serves the bunq API emulator of bunq/bunqtest, for the
// demo, the e2e tests and trying the operator by hand.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/pinq-dev/bunq-pinning-operator/bunq/bunqtest"
)

type keys []string

func (k *keys) String() string     { return strings.Join(*k, ",") }
func (k *keys) Set(v string) error { *k = append(*k, v); return nil }

func main() {
	var apiKeys, callbacks keys
	listen := flag.String("listen", "127.0.0.1:8088", "address to serve on")
	timeScale := flag.Float64("time-scale", 1, "run time this many times faster (rate-limit windows, session timeouts)")
	sessionTimeout := flag.Duration("session-timeout", 7*24*time.Hour, "the users' session timeout, before scaling")
	noLimits := flag.Bool("no-rate-limits", false, "turn bunq's rate limits off")
	flag.Var(&apiKeys, "api-key", "an API key to accept (repeatable)")
	flag.Var(&callbacks, "callback-url", "an https callback URL every key's user has as a MUTATION notification filter (repeatable)")
	certFile := flag.String("tls-cert-file", "", "serve https with this certificate (PEM); empty: plain http")
	keyFile := flag.String("tls-key-file", "", "the certificate's private key (PEM)")
	flag.Parse()
	if len(apiKeys) == 0 {
		log.Fatal("bunq-emulator: give at least one --api-key")
	}

	server, err := bunqtest.New(bunqtest.Options{
		TimeScale:         *timeScale,
		SessionTimeout:    *sessionTimeout,
		DisableRateLimits: *noLimits,
		Log:               func(line string) { log.Print(line) },
	}, apiKeys...)
	if err != nil {
		log.Fatalf("bunq-emulator: %v", err)
	}
	var filters []bunqtest.NotificationFilter
	for _, u := range callbacks {
		filters = append(filters, bunqtest.NotificationFilter{Category: "MUTATION", Target: u})
	}
	for _, k := range apiKeys {
		server.SetNotificationFilters(k, 0, filters...)
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	log.Printf("bunq-emulator: serving bunq at %s://%s/v1 for %d API key(s), time scale %g", scheme, *listen, len(apiKeys), *timeScale)
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", server.AdminHandler())
	mux.Handle("/", server)
	if *certFile != "" {
		log.Fatal(http.ListenAndServeTLS(*listen, *certFile, *keyFile, mux))
	}
	log.Fatal(http.ListenAndServe(*listen, mux))
}
