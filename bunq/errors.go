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
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
)

// Texts bunq puts in error_description for the errors callers tell apart.
const (
	textInsufficientAuthorisation  = "Insufficient authorisation."
	textInsufficientAuthentication = "Insufficient authentication."
	textCredentialsIncorrect       = "User credentials are incorrect. Incorrect API key or IP address."
	textSignatureInvalid           = "The request signature is invalid."
)

// StatusSignatureRequired is bunq's status for a call that must be signed and was not.
const StatusSignatureRequired = 466

// Error is a failure reply from bunq, or a transport failure on the way to it.
type Error struct {
	// StatusCode is the HTTP status; 0 when no reply arrived.
	StatusCode int
	// Descriptions holds every error_description of the reply, in order.
	Descriptions []string
	// ResponseID is X-Bunq-Client-Response-Id, which bunq support asks for.
	ResponseID string
	// Method and Path name the call, Path relative to /v1 and without a query.
	Method string
	Path   string
	// Err is the transport error behind a reply that never came.
	Err error
	// Unsigned marks a 401, 403 or 404 without a server signature once the
	// server's key is known: a proxy, a firewall or a maintenance page answered,
	// not bunq. It says nothing about the session or the object.
	Unsigned bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bunq: %s /%s: ", e.Method, e.Path)
	switch {
	case e.StatusCode == 0 && e.Err != nil:
		b.WriteString(e.Err.Error())
	case len(e.Descriptions) > 0:
		fmt.Fprintf(&b, "%d %s", e.StatusCode, strings.Join(e.Descriptions, " "))
	default:
		fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Unsigned {
		b.WriteString(" (unsigned: not from bunq, probably a proxy or firewall in between)")
	}
	if e.ResponseID != "" {
		fmt.Fprintf(&b, " (response id %s)", e.ResponseID)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) has(text string) bool {
	for _, d := range e.Descriptions {
		if d == text {
			return true
		}
	}
	return false
}

// SignatureError says a reply's X-Bunq-Server-Signature was missing or wrong: the
// reply may not come from bunq, so its content is never used.
type SignatureError struct {
	Method     string
	Path       string
	StatusCode int
	ResponseID string
	Reason     string
}

func (e *SignatureError) Error() string {
	msg := fmt.Sprintf("bunq: %s /%s: reply %d failed server signature check: %s", e.Method, e.Path, e.StatusCode, e.Reason)
	if e.ResponseID != "" {
		msg += fmt.Sprintf(" (response id %s)", e.ResponseID)
	}
	return msg
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// statusOf is the status of a reply that came from bunq; 0 for anything else.
func statusOf(err error) int {
	if e, ok := asError(err); ok && !e.Unsigned {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports a 404: the pin (or other object) does not exist.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// IsUnauthorized reports a rejected token: 401, or 403 as some bunq hosts answer.
func IsUnauthorized(err error) bool {
	s := statusOf(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// IsIPNotPermitted reports bunq's answer to an API key used from an IP it is not
// bound to. bunq gives the same answer for an unknown API key.
func IsIPNotPermitted(err error) bool {
	e, ok := asError(err)
	return ok && e.StatusCode == http.StatusBadRequest && e.has(textCredentialsIncorrect)
}

// IsKeyRefused reports bunq refusing the API key itself, in a reply it signed:
// the credentials or IP error, or a rejected session (after a fresh one).
func IsKeyRefused(err error) bool { return IsIPNotPermitted(err) || IsUnauthorized(err) }

// IsSignatureInvalid reports a signature problem either way: bunq rejecting the
// request's signature (400 or 466), or a reply failing the server signature check.
func IsSignatureInvalid(err error) bool {
	var se *SignatureError
	if errors.As(err, &se) {
		return true
	}
	e, ok := asError(err)
	return ok && (e.StatusCode == StatusSignatureRequired ||
		e.StatusCode == http.StatusBadRequest && e.has(textSignatureInvalid))
}

// IsNotSent reports a call that never reached bunq: the connection could not
// be made, so nothing was carried out.
func IsNotSent(err error) bool {
	e, ok := asError(err)
	var op *net.OpError
	return ok && e.StatusCode == 0 && errors.As(e.Err, &op) && op.Op == "dial"
}

// IsUnavailable reports bunq being down or unreachable: no reply, 5xx,
// maintenance (491), or an unsigned 401/403/404 from something in between.
func IsUnavailable(err error) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	return e.Unsigned || e.StatusCode == 0 || e.StatusCode >= 500 || e.StatusCode == 491
}

type errorBody struct {
	Error []struct {
		Description string `json:"error_description"`
	} `json:"Error"`
}

// newReplyError builds an Error from a non-200 reply. A body that is not bunq's
// JSON (a proxy's HTML page) is summarised, never parsed.
func newReplyError(method, path string, status int, responseID, contentType string, body []byte) *Error {
	e := &Error{StatusCode: status, ResponseID: responseID, Method: method, Path: path}
	var parsed errorBody
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Error) > 0 {
		for _, d := range parsed.Error {
			e.Descriptions = append(e.Descriptions, d.Description)
		}
		return e
	}
	e.Descriptions = []string{summarise(contentType, body)}
	return e
}

// summarise describes a body that is not bunq JSON in one printable line.
func summarise(contentType string, body []byte) string {
	contentType = printable(contentType, 60)
	if contentType == "" {
		contentType = "no content type"
	}
	text := printable(stripTags(string(body)), 120)
	if text == "" {
		return fmt.Sprintf("unexpected reply (%s, %d bytes)", contentType, len(body))
	}
	return fmt.Sprintf("unexpected reply (%s, %d bytes): %s", contentType, len(body), text)
}

// printable folds white space, drops what a terminal would not show, and cuts at max bytes.
func printable(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

func stripTags(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			b.WriteRune(' ')
		case r == '>':
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return b.String()
}
