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
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
)

// Field indexes from a resource to the Secrets it names.
const (
	indexSecretName = "spec.secretName"
	indexAPIKeyName = "spec.apiKeySecretRef.name"
)

// wakeBuffer holds the resources woken when a session opens, before the
// workqueue takes them: a key's resources at once, usually.
const wakeBuffer = 1024

// SetupWithManager registers the controller. Secrets are watched as metadata
// only and mapped to the resources naming them through field indexes, so
// neither memory nor work grows with unrelated Secrets.
func (r *BunqPinnedCertificateReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &bunqv1alpha1.BunqPinnedCertificate{}, indexSecretName, func(o client.Object) []string {
		return []string{o.(*bunqv1alpha1.BunqPinnedCertificate).Spec.SecretName}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &bunqv1alpha1.BunqPinnedCertificate{}, indexAPIKeyName, func(o client.Object) []string {
		return []string{o.(*bunqv1alpha1.BunqPinnedCertificate).Spec.APIKeySecretRef.Name}
	}); err != nil {
		return err
	}
	woken := make(chan event.TypedGenericEvent[types.NamespacedName], wakeBuffer)
	background, stop := context.WithCancel(context.Background())
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		stop()
		return nil
	})); err != nil {
		return err
	}
	r.accounts = &accounts{newClient: r.NewClient, reader: r.APIReader, writer: r.Client, namespace: r.ContextNamespace,
		clock: r.clock(), backoff: r.RefusedKeyBackoff, background: background,
		wake: func(key types.NamespacedName) {
			select {
			case woken <- event.TypedGenericEvent[types.NamespacedName]{Object: key}:
			case <-background.Done():
			}
		}}
	r.secrets = &secretReader{cache: r.Client, live: r.APIReader}
	r.pins = newPinSets(r.APIReader, r.WatchNamespaces)
	r.prober = newProber(r.DialEndpoint, r.ProbeConcurrency)
	r.conflicts = newConflictBackoff()
	return ctrl.NewControllerManagedBy(mgr).
		For(&bunqv1alpha1.BunqPinnedCertificate{}).
		WatchesMetadata(&corev1.Secret{}, changedSecretsFirst{handler.EnqueueRequestsFromMapFunc(r.resourcesForSecret)}).
		WatchesRawSource(source.Channel(woken, handler.TypedEnqueueRequestsFromMapFunc(
			func(_ context.Context, key types.NamespacedName) []reconcile.Request {
				return []reconcile.Request{{NamespacedName: key}}
			}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(maxConcurrent, 1)}).
		Named("bunqpinnedcertificate").
		Complete(r)
}

// resourcesForSecret maps a Secret to the resources that name it, as TLS Secret
// or as API key Secret.
func (r *BunqPinnedCertificateReconciler) resourcesForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	key := client.ObjectKeyFromObject(secret)
	requests, err := r.resourcesNaming(ctx, key)
	if err != nil {
		logf.FromContext(ctx).Error(err, "cannot map a Secret to its resources", "secret", key.Name)
	} else if len(requests) == 0 {
		r.secrets.forget(key) // no resource names it (any more)
	}
	return requests
}

// resourcesNaming returns the resources that name a Secret, through the
// field indexes; a failed lookup is returned with what the others found.
func (r *BunqPinnedCertificateReconciler) resourcesNaming(ctx context.Context, key types.NamespacedName) ([]reconcile.Request, error) {
	var requests []reconcile.Request
	var errs []error
	seen := map[string]bool{}
	for _, index := range []string{indexSecretName, indexAPIKeyName} {
		list := &bunqv1alpha1.BunqPinnedCertificateList{}
		if err := r.List(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{index: key.Name},
			client.UnsafeDisableDeepCopy); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, item := range list.Items {
			if !seen[item.Name] {
				seen[item.Name] = true
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&item)})
			}
		}
	}
	return requests, errors.Join(errs...)
}

// forgetUnreferencedSecrets drops the kept data of a namespace's Secrets that
// no resource names any more.
func (r *BunqPinnedCertificateReconciler) forgetUnreferencedSecrets(ctx context.Context, namespace string) {
	for _, key := range r.secrets.keys(namespace) {
		if requests, err := r.resourcesNaming(ctx, key); err == nil && len(requests) == 0 {
			r.secrets.forget(key)
		}
	}
}
