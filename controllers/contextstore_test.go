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
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	bunqv1alpha1 "github.com/pinq-dev/bunq-pinning-operator/api/v1alpha1"
	"github.com/pinq-dev/bunq-pinning-operator/bunq"
)

var _ = Describe("The context Secret", func() {
	It("keeps both the context and the resource list when both are first written at once", func() {
		for i := range 10 {
			store := &secretStore{reader: k8sClient, writer: k8sClient, env: bunqv1alpha1.EnvironmentSandbox,
				key: types.NamespacedName{Namespace: contextNamespace, Name: fmt.Sprintf("bunq-context-race-%d", i)}}
			var wg sync.WaitGroup
			wg.Go(func() {
				defer GinkgoRecover()
				Expect(store.Save(ctx, &bunq.APIContext{InstallationToken: "t", UserID: 7})).To(Succeed())
			})
			wg.Go(func() {
				defer GinkgoRecover()
				Expect(store.saveUsers(ctx, map[types.UID]bool{"uid-1": true})).To(Succeed())
			})
			wg.Wait()
			loaded, err := store.Load(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(loaded.UserID).To(Equal(int64(7)))
			Expect(store.users(ctx)).To(HaveKey(types.UID("uid-1")))
		}
	})
})
