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

package k8sassets

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestVersionIsTheToolModulesKubernetes(t *testing.T) {
	v, err := Version("../..")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^1\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("Version = %q, want a Kubernetes release such as 1.37.2", v)
	}
	for _, mod := range []string{"require k8s.io/kubernetes v1.40.1\n", "require (\n\tk8s.io/kubernetes v1.40.1 // pinned\n)\n"} {
		root := t.TempDir()
		dir := filepath.Join(root, "hack", "tools", "kube-apiserver")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\n"+mod), 0o644); err != nil {
			t.Fatal(err)
		}
		if v, err := Version(root); err != nil || v != "1.40.1" {
			t.Errorf("Version of %q = %q, %v; want 1.40.1", mod, v, err)
		}
	}
}
