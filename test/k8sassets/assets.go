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

// Package k8sassets says where the Kubernetes binaries the tests run are:
// bin/k8s/<version>-<os>-<arch>, the version being the k8s.io/kubernetes
// module that hack/tools/kube-apiserver builds them from. That go.mod is the
// one place the version is written; the Makefile reads it too.
package k8sassets

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Version is the Kubernetes version of the binaries, such as 1.37.2.
func Version(root string) (string, error) {
	mod := filepath.Join(root, "hack", "tools", "kube-apiserver", "go.mod")
	f, err := os.Open(mod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return strings.TrimPrefix(fields[1], "v"), nil
		}
	}
	return "", fmt.Errorf("%s requires no k8s.io/kubernetes", mod)
}

// Dir is the folder of the binaries under the repository root.
func Dir(root string) (string, error) {
	v, err := Version(root)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "k8s", v+"-"+runtime.GOOS+"-"+runtime.GOARCH), nil
}
