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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Environment selects which bunq the certificate is pinned on.
// +kubebuilder:validation:Enum=Production;Sandbox
type Environment string

const (
	EnvironmentProduction Environment = "Production"
	EnvironmentSandbox    Environment = "Sandbox"
)

// ChainMode says which certificates of the Secret make up the pinned chain.
// +kubebuilder:validation:Enum=Served;Leaf;ServedWithCA
type ChainMode string

const (
	// ChainServed pins every certificate of tls.crt, as the server presents them.
	ChainServed ChainMode = "Served"
	// ChainLeaf pins the leaf certificate alone.
	ChainLeaf ChainMode = "Leaf"
	// ChainServedWithCA pins tls.crt followed by ca.crt when the Secret has one.
	ChainServedWithCA ChainMode = "ServedWithCA"
)

// DeletionPolicy says what happens to the pin on bunq when the resource is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	DeletionPolicyDelete DeletionPolicy = "Delete"
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// The condition types this resource reports: Ready (the chain is pinned) and
// Served (the callback endpoints serve a pinned leaf).
const (
	ConditionReady  = "Ready"
	ConditionServed = "Served"
)

// Reasons of the Served condition.
const (
	ReasonEndpointsServePinnedChain = "EndpointsServePinnedChain"
	ReasonEndpointNotPinned         = "EndpointNotPinned"
	ReasonNoEndpoints               = "NoEndpoints"
	ReasonEndpointUnreachable       = "EndpointUnreachable"
)

// AnnotationSyncRequestedAt, set to a new value, makes the next pass read the
// pins back from bunq and check the endpoints at once.
const AnnotationSyncRequestedAt = "bunq.pinq.dev/sync-requested-at"

// Reasons of the Ready condition.
const (
	ReasonPinned               = "Pinned"
	ReasonPinning              = "Pinning"
	ReasonTemporaryCertificate = "TemporaryCertificate"
	ReasonSuspended            = "Suspended"
	ReasonSecretNotFound       = "SecretNotFound"
	ReasonInvalidCertificate   = "InvalidCertificate"
	ReasonCertificateExpired   = "CertificateExpired"
	ReasonAPIKeyNotFound       = "APIKeyNotFound"
	ReasonInvalidAPIKey        = "InvalidAPIKey"
	ReasonUnauthorized         = "Unauthorized"
	ReasonIPNotPermitted       = "IPNotPermitted"
	ReasonRateLimited          = "RateLimited"
	ReasonBunqUnavailable      = "BunqUnavailable"
	ReasonBunqError            = "BunqError"
	ReasonSignatureInvalid     = "SignatureInvalid"
)

// SecretKeyRef names a key of a Secret in the resource's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a DNS subdomain: lower case letters, digits, '-' and '.'"
	Name string `json:"name"`

	// Key in the Secret's data that holds the bunq API key. Defaults to "api-key".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// BunqPinnedCertificateSpec says which chain to keep pinned on which bunq account.
// Optional fields have no schema defaults on purpose: the controller applies them, so
// GitOps tools never see a field they did not write.
type BunqPinnedCertificateSpec struct {
	// SecretName is the TLS Secret in the same namespace, as cert-manager writes it:
	// tls.crt holds the PEM chain, leaf first. tls.key comes with every read of
	// the Secret and is dropped at once: never kept, logged or sent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a DNS subdomain: lower case letters, digits, '-' and '.'"
	SecretName string `json:"secretName"`

	// APIKeySecretRef names the Secret key holding the bunq API key.
	APIKeySecretRef SecretKeyRef `json:"apiKeySecretRef"`

	// Environment is the bunq the chain is pinned on.
	Environment Environment `json:"environment"`

	// Chain is what to pin: Served (default), Leaf or ServedWithCA.
	// +optional
	Chain ChainMode `json:"chain,omitempty"`

	// RetainPreviousFor keeps the previous chain pinned this long after a rotation, so
	// servers still presenting it keep receiving callbacks. Defaults to 5m; 0s retires at once.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="must be a duration between 0s and 24h"
	RetainPreviousFor *metav1.Duration `json:"retainPreviousFor,omitempty"`

	// DeletionPolicy says whether deleting this resource unpins the chain on bunq
	// (Delete, the default) or leaves it pinned (Retain).
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Suspend stops every bunq call for this resource; the pins stay as they are.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Endpoints are callback endpoints to verify besides those found among the
	// bunq user's notification filters.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is a callback endpoint whose served chain is checked.
type Endpoint struct {
	// URL is the https URL bunq calls back.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="must be an https URL"
	URL string `json:"url"`

	// Address is the host:port to dial instead of the URL's host, such as the
	// ingress controller's Service; the TLS server name stays the URL's host.
	// +optional
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:Pattern=`^[^\s/]+:[0-9]{1,5}$`
	Address string `json:"address,omitempty"`
}

// EndpointSource says where an endpoint came from.
// +kubebuilder:validation:Enum=Spec;Bunq
type EndpointSource string

const (
	EndpointSourceSpec EndpointSource = "Spec"
	EndpointSourceBunq EndpointSource = "Bunq"
)

// EndpointStatus is what a callback endpoint served when last checked.
type EndpointStatus struct {
	// URL is the callback URL.
	URL string `json:"url"`
	// Source is Spec (spec.endpoints) or Bunq (a notification filter of the user).
	Source EndpointSource `json:"source"`
	// ServedFingerprint is sha256:<hex> over the DER of the leaf the endpoint served.
	// +optional
	ServedFingerprint string `json:"servedFingerprint,omitempty"`
	// ServedLeafSerial is the serial number of that leaf.
	// +optional
	ServedLeafSerial string `json:"servedLeafSerial,omitempty"`
	// Pinned says the served leaf is the leaf of a chain pinned for this resource.
	Pinned bool `json:"pinned"`
	// LastCheckTime is when the endpoint was last checked.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// Error says why the endpoint could not be checked; empty when it was.
	// +optional
	Error string `json:"error,omitempty"`
}

// MaxEndpoints bounds status.endpoints: spec.endpoints plus the bunq callbacks
// that match the leaf's names.
const MaxEndpoints = 30

// CertificateInfo describes the leaf certificate of the pinned chain.
type CertificateInfo struct {
	Subject      string      `json:"subject,omitempty"`
	Issuer       string      `json:"issuer,omitempty"`
	SerialNumber string      `json:"serialNumber,omitempty"`
	NotBefore    metav1.Time `json:"notBefore,omitempty"`
	NotAfter     metav1.Time `json:"notAfter,omitempty"`
	// +optional
	// +listType=atomic
	DNSNames []string `json:"dnsNames,omitempty"`
	// ChainLength is the number of certificates pinned.
	ChainLength int32 `json:"chainLength,omitempty"`
	// Fingerprint is sha256:<hex> over the DER of the leaf alone: what a
	// callback endpoint's served leaf is compared with.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
}

// PreviousPin is a chain that stays pinned for the overlap after a rotation.
type PreviousPin struct {
	// ID is the bunq id of the pinned chain.
	ID int64 `json:"id"`
	// Fingerprint is sha256:<hex> over the concatenated DER of the chain.
	Fingerprint string `json:"fingerprint,omitempty"`
	// RetireAfter is when the chain is unpinned, once no endpoint serves its leaf.
	RetireAfter metav1.Time `json:"retireAfter"`
	// LeafFingerprint is sha256:<hex> over the DER of the chain's leaf.
	// +optional
	LeafFingerprint string `json:"leafFingerprint,omitempty"`
	// ReplacedAt is when a newer chain took its place; 24h later it is
	// unpinned even if an endpoint still serves it.
	// +optional
	ReplacedAt *metav1.Time `json:"replacedAt,omitempty"`
}

// MaxPrevious bounds status.previous: a Secret that flips faster than its
// overlap retires its oldest previous chains early instead of growing without end.
const MaxPrevious = 10

// MaxUnsettled bounds status.unsettled.
const MaxUnsettled = 10

// UnsettledPin is a chain whose pin request had an unknown outcome (a timeout,
// a lost reply, a crash): bunq may still commit it. It is settled by a list of
// the pins read after SettleAfter: adopted when wanted, removed when not.
type UnsettledPin struct {
	// Fingerprint is sha256:<hex> over the concatenated DER of the chain.
	Fingerprint string `json:"fingerprint"`
	// SettleAfter is when no request for the chain can still commit.
	SettleAfter metav1.Time `json:"settleAfter"`
}

// BunqPinnedCertificateStatus is what bunq holds for this resource, as last confirmed.
type BunqPinnedCertificateStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// UserID is the bunq user the chain is pinned under.
	// +optional
	UserID int64 `json:"userID,omitempty"`

	// PinnedCertificateID is the bunq id of the chain now pinned.
	// +optional
	PinnedCertificateID int64 `json:"pinnedCertificateID,omitempty"`

	// Fingerprint is sha256:<hex> over the concatenated DER of the pinned chain.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// Certificate describes the pinned leaf.
	// +optional
	Certificate *CertificateInfo `json:"certificate,omitempty"`

	// Previous lists chains still pinned for the overlap after a rotation,
	// oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Previous []PreviousPin `json:"previous,omitempty"`

	// Pending is the fingerprint of a chain whose pin was requested but not yet
	// recorded; after a crash it tells the controller to look for that pin on bunq.
	// +optional
	Pending string `json:"pending,omitempty"`

	// Unsettled lists chains whose pin request had an unknown outcome; they stay
	// on record until a later list of bunq's pins settles them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Unsettled []UnsettledPin `json:"unsettled,omitempty"`

	// LastSyncTime is the last time bunq was confirmed to hold the chain.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// Endpoints are the callback endpoints checked and what each served.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=30
	Endpoints []EndpointStatus `json:"endpoints,omitempty"`

	// LastHandledSyncRequest is the value of the annotation
	// bunq.pinq.dev/sync-requested-at last acted on.
	// +optional
	LastHandledSyncRequest string `json:"lastHandledSyncRequest,omitempty"`

	// Conditions hold Ready and Served.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BunqPinnedCertificate keeps the chain of a cert-manager TLS Secret pinned on bunq.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bpc,categories=bunq
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.secretName`
// +kubebuilder:printcolumn:name="Pinned ID",type=integer,JSONPath=`.status.pinnedCertificateID`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Served",type=string,JSONPath=`.status.conditions[?(@.type=="Served")].status`,description="Whether the callback endpoints serve a pinned leaf"
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.certificate.notAfter`,description="When the pinned leaf expires"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="User",type=integer,JSONPath=`.status.userID`,priority=1,description="The bunq user the chain is pinned under"
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`,priority=1,description="When bunq was last confirmed to hold the chain"
type BunqPinnedCertificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BunqPinnedCertificateSpec   `json:"spec,omitempty"`
	Status BunqPinnedCertificateStatus `json:"status,omitempty"`
}

// BunqPinnedCertificateList is a list of BunqPinnedCertificate.
// +kubebuilder:object:root=true
type BunqPinnedCertificateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BunqPinnedCertificate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BunqPinnedCertificate{}, &BunqPinnedCertificateList{})
}
