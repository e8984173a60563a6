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

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileCopiesEveryImportedFolder stands in for `docker build`, which
// cannot run here: each folder of this module that the manager imports must be
// copied into the builder stage.
func TestDockerfileCopiesEveryImportedFolder(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/pinq-dev/bunq-pinning-operator/"
	needed := map[string]bool{}
	for _, pkg := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(pkg, module); ok {
			needed[strings.SplitN(rest, "/", 2)[0]] = true
		}
	}
	if len(needed) == 0 {
		t.Fatal("main imports no package of its module: go list failed to see them")
	}
	copied := dockerfileCopies(t)
	for folder := range needed {
		if !copied[folder] {
			t.Errorf("the manager imports %s/ but the Dockerfile does not COPY it", folder)
		}
	}
	if !copied["main.go"] || !copied["go.mod"] || !copied["go.sum"] {
		t.Errorf("the Dockerfile must copy main.go, go.mod and go.sum; it copies %v", copied)
	}
}

func dockerfileCopies(t *testing.T) map[string]bool {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	copied := map[string]bool{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) >= 3 && fields[0] == "COPY" && !strings.HasPrefix(fields[1], "--from") {
			copied[strings.TrimSuffix(fields[1], "/")] = true
		}
	}
	return copied
}

func TestDockerfileBuildsStaticNonRoot(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM --platform=$BUILDPLATFORM golang:1.26", "GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH}", "CGO_ENABLED=0", "-X main.version=", "gcr.io/distroless/static:nonroot", "USER 65532:65532", `ENTRYPOINT ["/manager"]`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func TestFlagsRefuseClearTextAndScaledRealBunq(t *testing.T) {
	ok := config{productionURL: "https://api.bunq.com/v1", sandboxURL: "https://public-api.sandbox.bunq.com/v1", timeScale: 1, rateBudget: 1}
	cases := []struct {
		name   string
		mutate func(*config)
		want   string // "" for accepted
	}{
		{"defaults", func(*config) {}, ""},
		{"emulator on loopback over http", func(c *config) {
			c.productionURL, c.sandboxURL, c.timeScale = "http://127.0.0.1:8088/v1", "http://localhost:8088/v1", 10
		}, ""},
		{"IPv6 loopback", func(c *config) { c.sandboxURL = "http://[::1]:8088/v1" }, ""},
		{"http to a remote host", func(c *config) { c.sandboxURL = "http://bunq-proxy.internal/v1" }, "https only"},
		{"http to bunq", func(c *config) { c.productionURL = "http://api.bunq.com/v1" }, "https only"},
		{"not a URL", func(c *config) { c.productionURL = "api.bunq.com" }, "not an absolute URL"},
		{"time scale with real bunq", func(c *config) { c.timeScale = 10 }, "emulator only"},
		{"time scale with real sandbox", func(c *config) { c.productionURL, c.timeScale = "http://127.0.0.1:1/v1", 10 }, "emulator only"},
		{"watched namespaces", func(c *config) { c.watchNamespaces = splitList(" payments, ,billing ") }, ""},
		{"half the rate budget", func(c *config) { c.rateBudget = 0.5 }, ""},
		{"no rate budget", func(c *config) { c.rateBudget = 0 }, "above 0 and at most 1"},
		{"more than bunq allows", func(c *config) { c.rateBudget = 1.5 }, "above 0 and at most 1"},
		{"watched namespace not a name", func(c *config) { c.watchNamespaces = []string{"Payments_EU"} }, "not a namespace name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestMakeTargetsInDocsExist: every `make <target>` the README or docs/ tell a
// user to run is a target of the Makefile (make -n runs nothing).
func TestMakeTargetsInDocsExist(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	target := regexp.MustCompile("`(?:[A-Z_]+=\\S+ )*make ([a-z][a-z0-9-]*)")
	for _, f := range append(files, "README.md") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range target.FindAllStringSubmatch(string(data), -1) {
			seen[m[1]] = true
		}
	}
	if !seen["test"] || !seen["bench"] {
		t.Fatalf("found %v; the docs name make test and make bench at least", seen)
	}
	for name := range seen {
		if out, err := exec.Command("make", "-n", name).CombinedOutput(); err != nil {
			t.Errorf("the docs say `make %s`, which the Makefile does not have: %s", name, out)
		}
	}
}

// TestInstallerPullsAVersionedImage: the one-file install never pulls latest.
func TestInstallerPullsAVersionedImage(t *testing.T) {
	data, err := os.ReadFile("dist/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	images := regexp.MustCompile(`(?m)^\s+image:\s*(\S+)$`).FindAllStringSubmatch(string(data), -1)
	if len(images) == 0 {
		t.Fatal("dist/install.yaml names no image")
	}
	for _, m := range images {
		if !regexp.MustCompile(`:v\d+\.\d+\.\d+$`).MatchString(m[1]) {
			t.Errorf("dist/install.yaml pulls %s; images carry a version tag, never latest", m[1])
		}
	}
}
