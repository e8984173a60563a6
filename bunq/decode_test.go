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
	"strings"
	"testing"
	"unicode"
)

// decodePinPage reads one page of pins as ListPins does.
func decodePinPage(raw []byte) ([]Pin, string, error) {
	var pins []Pin
	next, err := decodePage(raw, endpointPins, addPin(&pins))
	if err != nil {
		return nil, "", err
	}
	return pins, next, nil
}

func TestChainFieldAcceptsBothForms(t *testing.T) {
	t.Parallel()
	const a, b = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nBB==\n-----END CERTIFICATE-----\n"
	glued, _ := json.Marshal(a + "\n" + b)
	listed, _ := json.Marshal([]map[string]string{{"certificate": a}, {"certificate": b}})
	for name, raw := range map[string][]byte{"string": glued, "array": listed} {
		body := `{"Response":[{"CertificatePinned":{"id":7,"certificate_chain":` + string(raw) + `}}],"Pagination":{"future_url":null,"newer_url":null,"older_url":null}}`
		pins, next, err := decodePinPage([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(pins) != 1 || pins[0].ID != 7 || pins[0].Chain != a+"\n"+b || next != "" {
			t.Errorf("%s: pins %+v next %q", name, pins, next)
		}
	}
	bad := `{"Response":[{"CertificatePinned":{"id":7,"certificate_chain":42}}]}`
	if _, _, err := decodePinPage([]byte(bad)); err == nil {
		t.Error("a numeric certificate_chain decoded")
	}
}

func TestDecodeSessionUserTypes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		user    string
		id      int64
		seconds int64
	}{
		"person":  {`{"UserPerson":{"id":11,"session_timeout":3600}}`, 11, 3600},
		"company": {`{"UserCompany":{"id":12,"session_timeout":60}}`, 12, 60},
		"api key": {`{"UserApiKey":{"id":13,"requested_by_user":{"UserCompany":{"id":99,"session_timeout":120}}}}`, 13, 120},
		"psp":     {`{"UserPaymentServiceProvider":{"id":14}}`, 14, int64(defaultSessionTimeout.Seconds())},
	}
	for name, c := range cases {
		raw := `{"Response":[{"Id":{"id":1}},{"Token":{"id":1,"token":"t"}},` + c.user + `]}`
		s, err := decodeSession([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.userID != c.id || int64(s.timeout.Seconds()) != c.seconds || s.token != "t" {
			t.Errorf("%s: %+v", name, s)
		}
	}
	if _, err := decodeSession([]byte(`{"Response":[{"Id":{"id":1}},{"Token":{"token":"t"}},{"UserRobot":{"id":1}}]}`)); err == nil {
		t.Error("an unknown user type decoded")
	}
	if _, err := decodeSession([]byte(`{"Response":[{"Token":{"token":"t"}},{"Id":{"id":1}},{"UserPerson":{"id":1}}]}`)); err == nil {
		t.Error("entries out of position decoded")
	}
}

func TestReplyErrorShapes(t *testing.T) {
	t.Parallel()
	two := `{"Error":[{"error_description":"First.","error_description_translated":"Eerste."},{"error_description":"Second."}]}`
	e := newReplyError("POST", "x", 400, "rid", "application/json", []byte(two))
	if strings.Join(e.Descriptions, "|") != "First.|Second." {
		t.Errorf("descriptions %v", e.Descriptions)
	}
	e = newReplyError("GET", "x", 502, "", "", nil)
	if len(e.Descriptions) != 1 || !strings.Contains(e.Descriptions[0], "0 bytes") {
		t.Errorf("empty body: %v", e.Descriptions)
	}
	e = newReplyError("GET", "x", 500, "", "application/json", []byte(`{"Error":"oops"}`))
	if len(e.Descriptions) != 1 || !strings.Contains(e.Error(), "oops") {
		t.Errorf("odd JSON: %v", e)
	}
}

func FuzzDecodePinPage(f *testing.F) {
	f.Add([]byte(`{"Response":[{"CertificatePinned":{"id":1,"certificate_chain":"x"}}],"Pagination":{"older_url":"/v1/user/1/certificate-pinned?older_id=1"}}`))
	f.Add([]byte(`{"Response":[{"CertificatePinned":{"id":1,"certificate_chain":[{"certificate":"x"}]}}]}`))
	f.Add([]byte(`{"Response":[],"Pagination":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pins, next, err := decodePinPage(raw)
		if err != nil && (pins != nil || next != "") {
			t.Fatalf("error %v with results %v %q", err, pins, next)
		}
		if strings.HasPrefix(next, "/") {
			t.Fatalf("next page %q is not relative", next)
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	f.Add([]byte(`{"Response":[{"Id":{"id":1}},{"Token":{"id":1,"token":"abc"}},{"UserPerson":{"id":2,"session_timeout":10}}]}`))
	f.Add([]byte(`{"Response":[{"Id":{"id":1}},{"Token":{"token":"abc"}},{"UserApiKey":{"id":2,"requested_by_user":{"UserPerson":{"session_timeout":-5}}}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := decodeSession(raw)
		if err == nil && (s.token == "" || s.timeout <= 0) {
			t.Fatalf("accepted a session without token or timeout: %+v", s)
		}
	})
}

func FuzzReplyError(f *testing.F) {
	f.Add(400, "application/json", []byte(`{"Error":[{"error_description":"The request signature is invalid."}]}`))
	f.Add(502, "text/html", []byte("<html><title>502 Bad Gateway</title>\x00\x01</html>"))
	f.Add(429, "", []byte(`{"Error":[]}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		e := newReplyError("GET", "user/1/certificate-pinned", status, "rid", contentType, body)
		if len(e.Descriptions) == 0 {
			t.Fatal("no description")
		}
		msg := e.Error()
		if json.Valid(body) {
			return
		}
		// A summarised page is one printable line of bounded length.
		for _, r := range e.Descriptions[0] {
			if !unicode.IsPrint(r) {
				t.Fatalf("unprintable %q in %q", r, msg)
			}
		}
		if len(e.Descriptions[0]) > 400+len(contentType) {
			t.Fatalf("summary of %d bytes", len(e.Descriptions[0]))
		}
	})
}
