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

package bunqtest

import (
	"net/http"
	"strconv"
)

// call is one request as a handler sees it.
type call struct {
	r    *http.Request
	body []byte
	ip   string
	args []int64 // numeric path parts: user id, pin id
}

type handler func(s *Server, c call) reply

type route struct {
	endpoint string
	handler  handler
	args     []int64
}

// Endpoint templates, as counted by Count and named in Fault.Endpoint.
const (
	EndpointInstallation = "installation"
	EndpointDeviceServer = "device-server"
	EndpointSession      = "session-server"
	EndpointEndSession   = "session/{id}"
	EndpointPins         = "user/{userID}/certificate-pinned"
	EndpointPin          = "user/{userID}/certificate-pinned/{id}"
	EndpointSandboxUser  = "sandbox-user-person"
	EndpointUsers        = "user"
	EndpointUser         = "user/{userID}"
	EndpointAccounts     = "user/{userID}/monetary-account"
	EndpointUserFilters  = "user/{userID}/notification-filter-url"
	// EndpointAccountFilters are the notification filters of one monetary account.
	EndpointAccountFilters = "user/{userID}/monetary-account/{id}/notification-filter-url"
)

// match finds the endpoint of a path, and its handler for the method (nil when
// the endpoint exists but not for this method).
func match(method, path string) route {
	parts, ok := split(path)
	if !ok {
		return route{}
	}
	var endpoint string
	var args []int64
	switch {
	case len(parts) == 1 && (parts[0] == EndpointInstallation || parts[0] == EndpointDeviceServer || parts[0] == EndpointSession ||
		parts[0] == EndpointSandboxUser || parts[0] == EndpointUsers):
		return route{endpoint: parts[0], handler: handlers[method+" "+parts[0]]}
	case len(parts) == 2 && parts[0] == "session":
		endpoint, args = EndpointEndSession, numbers(parts[1:])
	case len(parts) == 2 && parts[0] == "user":
		endpoint, args = EndpointUser, numbers(parts[1:])
	case len(parts) == 3 && parts[0] == "user":
		endpoint, args = userEndpoints[parts[2]], numbers(parts[1:2])
	case len(parts) == 4 && parts[0] == "user" && parts[2] == "certificate-pinned":
		endpoint, args = EndpointPin, numbers([]string{parts[1], parts[3]})
	case len(parts) == 5 && parts[0] == "user" && parts[2] == "monetary-account" && parts[4] == "notification-filter-url":
		endpoint, args = EndpointAccountFilters, numbers([]string{parts[1], parts[3]})
	}
	if endpoint == "" || args == nil {
		return route{}
	}
	return route{endpoint: endpoint, args: args, handler: handlers[method+" "+endpoint]}
}

// userEndpoints are the endpoints one level below /user/{userID}.
var userEndpoints = map[string]string{
	"certificate-pinned":      EndpointPins,
	"monetary-account":        EndpointAccounts,
	"notification-filter-url": EndpointUserFilters,
}

var handlers = map[string]handler{
	"POST " + EndpointInstallation:   (*Server).installation,
	"POST " + EndpointDeviceServer:   (*Server).deviceServer,
	"POST " + EndpointSession:        (*Server).sessionServer,
	"DELETE " + EndpointEndSession:   (*Server).endSession,
	"POST " + EndpointPins:           (*Server).createPin,
	"GET " + EndpointPins:            (*Server).listPins,
	"GET " + EndpointPin:             (*Server).readPin,
	"DELETE " + EndpointPin:          (*Server).deletePin,
	"POST " + EndpointSandboxUser:    (*Server).sandboxUser,
	"GET " + EndpointUsers:           (*Server).listUsers,
	"GET " + EndpointUser:            (*Server).readUser,
	"GET " + EndpointAccounts:        (*Server).listAccounts,
	"GET " + EndpointUserFilters:     (*Server).userFilters,
	"POST " + EndpointUserFilters:    (*Server).userFilters,
	"GET " + EndpointAccountFilters:  (*Server).accountFilters,
	"POST " + EndpointAccountFilters: (*Server).accountFilters,
}

// numbers parses path ids; nil when any is not a number.
func numbers(parts []string) []int64 {
	out := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil
		}
		out[i] = n
	}
	return out
}
