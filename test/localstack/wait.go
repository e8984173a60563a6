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

package localstack

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Poll calls ok every interval, at once first, until it holds or timeout
// passes; then it returns an error. The one polling loop of the tests, the
// demo and the benchmarks.
func Poll(interval, timeout time.Duration, ok func() bool) error {
	return wait.PollUntilContextTimeout(context.Background(), interval, timeout, true,
		func(context.Context) (bool, error) { return ok(), nil })
}
