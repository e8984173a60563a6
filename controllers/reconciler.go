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
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

// Finalizer unpins a resource's chains on bunq before it goes.
const Finalizer = "bunq.pinq.dev/unpin"

// Defaults of optional spec fields; the CRD has none so GitOps tools see no drift.
const (
	defaultAPIKeyKey         = "api-key"
	maxAPIKeyValueBytes      = 4 << 10 // kept for the check; longer is refused unread
	defaultRetainPreviousFor = 5 * time.Minute
	DefaultResyncPeriod      = time.Hour
)

// BunqPinnedCertificateReconciler keeps a Secret's chain pinned on bunq.
type BunqPinnedCertificateReconciler struct {
	client.Client
	// APIReader reads Secrets live: the cache holds their metadata only.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// NewClient builds a bunq client per API context.
	NewClient ClientFactory
	// ContextNamespace holds the API context Secrets.
	ContextNamespace string
	// WatchNamespaces are the namespaces whose resources are served; empty: all.
	WatchNamespaces []string
	// ResyncPeriod is how often pins are read back from bunq.
	ResyncPeriod time.Duration
	// Clock tells the time; defaults to the real clock.
	Clock clock.PassiveClock
	// LateCommitWindow is how long after it was sent a pin request with an
	// unknown outcome may still commit: the bunq client's timeout.
	LateCommitWindow time.Duration
	// RefusedKeyBackoff is the first wait after bunq refused a key; it doubles
	// to 60 times that.
	RefusedKeyBackoff time.Duration
	// DialEndpoint connects to callback endpoints; defaults to a net.Dialer.
	DialEndpoint Dialer
	// ProbeConcurrency bounds the endpoint handshakes at once; defaults to 16.
	ProbeConcurrency int

	accounts  *accounts
	secrets   *secretReader
	pins      *pinSets
	prober    *prober
	conflicts workqueue.TypedRateLimiter[types.NamespacedName]
	uids      sync.Map // types.NamespacedName → types.UID, to forget a resource once it is gone
}

// +kubebuilder:rbac:groups=bunq.pinq.dev,resources=bunqpinnedcertificates,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=bunq.pinq.dev,resources=bunqpinnedcertificates/status,verbs=get;patch
// +kubebuilder:rbac:groups=bunq.pinq.dev,resources=bunqpinnedcertificates/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=bunq-pinning-system,resources=secrets,verbs=create;patch

// Reconcile brings bunq's pins in line with one resource's Secret.
func (r *BunqPinnedCertificateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	obj := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		r.conflicts.Forget(req.NamespacedName)
		if apierrors.IsNotFound(err) {
			r.forget(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &pass{r: r, obj: obj, orig: obj.DeepCopy(), log: logf.FromContext(ctx), now: r.now()}
	defer func() {
		var conflict bool
		conflict, err = outcome(err, p.writeStatus(ctx))
		p.emitEvents()
		switch {
		case err != nil:
			res = ctrl.Result{} // the workqueue backs the error off; the newer version's event brings a pass anyway
		case conflict:
			p.log.Info("the resource changed during the sync; syncing again")
			res = ctrl.Result{RequeueAfter: r.conflicts.When(req.NamespacedName)}
		default:
			r.conflicts.Forget(req.NamespacedName)
		}
	}()

	if !obj.DeletionTimestamp.IsZero() {
		return p.finalize(ctx)
	}
	r.uids.Store(req.NamespacedName, obj.UID)
	if added, err := r.ensureFinalizer(ctx, obj); err != nil {
		return p.fail(err)
	} else if added {
		p.orig = obj.DeepCopy() // the finalizer patch moved the resourceVersion on
	}
	if obj.Spec.Suspend {
		p.log.V(1).Info("suspended: no bunq calls")
		p.report(metav1.ConditionFalse, bunqv1alpha1.ReasonSuspended, "spec.suspend is true: bunq is not called; existing pins stay as they are")
		return ctrl.Result{}, nil
	}
	return p.sync(ctx)
}

// forget drops what was kept for a resource that is gone: its metric series,
// its place in the pin table, its use of an account, and the Secrets no
// resource names any more.
func (r *BunqPinnedCertificateReconciler) forget(ctx context.Context, key types.NamespacedName) {
	forgetSeries(key.Namespace, key.Name)
	uid, ok := r.uids.LoadAndDelete(key)
	if !ok {
		return
	}
	r.pins.forget(uid.(types.UID))
	r.accounts.release(ctx, uid.(types.UID))
	r.forgetUnreferencedSecrets(ctx, key.Namespace)
}

// ensureFinalizer adds the finalizer when it is missing and says whether it
// did. The patch is conditional on the version read: a merge patch replaces
// the whole list, and would drop a finalizer another controller just added.
func (r *BunqPinnedCertificateReconciler) ensureFinalizer(ctx context.Context, obj *bunqv1alpha1.BunqPinnedCertificate) (bool, error) {
	if controllerutil.ContainsFinalizer(obj, Finalizer) {
		return false, nil
	}
	base := obj.DeepCopy()
	controllerutil.AddFinalizer(obj, Finalizer)
	err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return false, errConflict
	}
	return true, err
}

// sync is the steady path: load → parse → settle → pin or rotate → check
// drift → retire → report.
func (p *pass) sync(ctx context.Context) (ctrl.Result, error) {
	data, err := p.loadTLS(ctx)
	if err != nil {
		return p.fail(err)
	}
	c, err := chainFromSecret(data, p.obj.Spec.Chain, p.now)
	if err != nil {
		return p.fail(err)
	}
	st := &p.obj.Status
	if st.Certificate != nil && st.Fingerprint == c.fingerprint && st.Certificate.Fingerprint == "" {
		st.Certificate = c.info() // recorded before leaf fingerprints were
	}
	request := p.obj.Annotations[bunqv1alpha1.AnnotationSyncRequestedAt]
	p.forced = request != "" && request != st.LastHandledSyncRequest
	if st.PinnedCertificateID != 0 && st.Fingerprint != c.fingerprint {
		// A renewal is urgent: its calls go before first pins and resyncs.
		ctx = bunq.WithPriority(ctx, bunq.PriorityHigh)
	}
	acc, err := p.account(ctx)
	if err != nil {
		return p.fail(err)
	}
	if err := p.resolveUser(ctx, acc); err != nil {
		return p.fail(err)
	}
	if p.mayUnpin() {
		if err := p.ensureFresh(ctx); err != nil {
			return p.fail(err)
		}
	}
	p.recoverPending()
	wanted := st.PinnedCertificateID == 0 || st.Fingerprint != c.fingerprint
	adopt := ""
	if wanted {
		adopt = c.fingerprint // a late pin of it is adopted, not removed
	}
	settleIn, err := p.settle(ctx, acc, adopt)
	if err != nil {
		return p.fail(err)
	}
	var done pinned
	switch {
	case wanted:
		done, err = p.pin(ctx, acc, c)
	case p.resyncDue() || p.forced:
		done, err = p.checkDrift(ctx, acc, c)
	}
	if err != nil {
		return p.fail(err)
	}
	// A new pin is recorded at once; checking the endpoints and retiring the
	// old pin wait for the next pass (which this pass's status write
	// triggers), not the other way round.
	if done.how != "" {
		p.announce(done)
		p.judgeWithoutEndpoints(acc, c)
	} else {
		p.checkEndpoints(ctx, acc, c)
		err := p.retire(ctx, acc)
		p.judgeEndpoints(c)
		if err != nil {
			return p.fail(err)
		}
		if p.forced {
			st.LastHandledSyncRequest = request
		}
	}
	certificateNotAfter.WithLabelValues(p.obj.Namespace, p.obj.Name).Set(float64(c.certs[0].NotAfter.Unix()))
	p.report(metav1.ConditionTrue, bunqv1alpha1.ReasonPinned,
		"chain "+c.fingerprint+" is pinned on bunq as id "+itoa(st.PinnedCertificateID))
	wake := p.nextWake()
	if settleIn > 0 && settleIn < wake {
		wake = settleIn
	}
	return ctrl.Result{RequeueAfter: wake}, nil
}

// resolveUser finds the bunq user of the API key and makes sure it is the
// user the pins are on, so that a wrong key is reported at once rather than at
// the next renewal. The session is reused, so this costs bunq nothing once the
// key is known. A key of another bunq user pins there: bunq checks callbacks
// against that user's pins. The old user's pins cannot be reached with the new
// key; they stay.
func (p *pass) resolveUser(ctx context.Context, acc *account) error {
	if err := p.r.accounts.awaitSession(acc, client.ObjectKeyFromObject(p.obj)); err != nil {
		return err
	}
	id, err := acc.userID(ctx)
	if err != nil {
		return err
	}
	if err := p.r.pins.load(ctx); err != nil {
		return err
	}
	p.user = userKey{env: p.obj.Spec.Environment, id: id}
	st := &p.obj.Status
	if st.UserID == 0 || id == st.UserID {
		return nil
	}
	if st.PinnedCertificateID != 0 {
		p.event(corev1.EventTypeWarning, "UserChanged", fmt.Sprintf("the API key belongs to bunq user %d, not %d: "+
			"pinning the chain there; pins %v stay on user %d's account", id, st.UserID, p.ownedIDs(), st.UserID))
	}
	// Nothing of the old user's is settled or retired against the new one's pins.
	st.PinnedCertificateID, st.Fingerprint, st.Previous, st.Pending, st.Unsettled = 0, "", nil, "", nil
	st.UserID = id
	return nil
}

// mayUnpin says whether this pass may unpin, and so must start from the
// resource as the API server has it. A pass that only pins needs no such
// check: the pending write before the pin is conditional on the version read.
func (p *pass) mayUnpin() bool {
	st := p.obj.Status
	if st.Pending != "" || len(st.Unsettled) > 0 || p.resyncDue() || p.forced {
		return true
	}
	for _, prev := range st.Previous {
		if !p.now.Before(prev.RetireAfter.Time) {
			return true
		}
	}
	return false
}

// ensureFresh checks the resource against the API server before bunq is changed:
// a pass that started from a stale cache could pin a chain twice or unpin one
// that a newer status refers to.
func (p *pass) ensureFresh(ctx context.Context) error {
	live := &bunqv1alpha1.BunqPinnedCertificate{}
	if err := p.r.APIReader.Get(ctx, client.ObjectKeyFromObject(p.obj), live); err != nil {
		return err
	}
	if live.ResourceVersion != p.obj.ResourceVersion {
		return errConflict
	}
	// The status is the API server's: what it says the resource wants goes
	// into the table (a cached one may lag, and must not bring back a claim
	// the resource has already given up).
	p.r.pins.note(p.obj)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
