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

package cluster_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOperatorImageMatchesTheDockerfile: the image the cluster test runs,
// built without a Docker engine, is the Dockerfile's runtime stage in what
// matters: its entrypoint, its user, and nothing but the manager and the CA
// certificates (no shell).
func TestOperatorImageMatchesTheDockerfile(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	runtime := string(dockerfile[strings.LastIndex(string(dockerfile), "\nFROM "):])
	wantUser := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(runtime)
	wantEntrypoint := regexp.MustCompile(`(?m)^ENTRYPOINT (\[.*\])`).FindStringSubmatch(runtime)
	if wantUser == nil || wantEntrypoint == nil {
		t.Fatalf("the Dockerfile's runtime stage has no USER or ENTRYPOINT:\n%s", runtime)
	}
	var entrypoint []string
	if err := json.Unmarshal([]byte(wantEntrypoint[1]), &entrypoint); err != nil {
		t.Fatal(err)
	}

	files := readImage(t, filepath.Join("..", "..", "bin", "images", "operator.tar"))
	var config struct {
		Config struct {
			User       string
			Entrypoint []string
		}
	}
	if err := json.Unmarshal(files["config"], &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.User != wantUser[1] {
		t.Errorf("the image runs as %q, the Dockerfile as %q", config.Config.User, wantUser[1])
	}
	if !slices.Equal(config.Config.Entrypoint, entrypoint) {
		t.Errorf("the image's entrypoint is %v, the Dockerfile's %v", config.Config.Entrypoint, entrypoint)
	}
	var paths []string
	for name := range files {
		if name != "config" && !strings.HasSuffix(name, "/") {
			paths = append(paths, name)
		}
	}
	slices.Sort(paths)
	if want := []string{"etc/ssl/certs/ca-certificates.crt", "manager"}; !slices.Equal(paths, want) {
		t.Errorf("the image holds %v, want only %v (no shell, nothing else)", paths, want)
	}
}

// readImage reads a docker-save tarball: its config (as "config") and the
// files of its layers, by path.
func readImage(t *testing.T, path string) map[string][]byte {
	t.Helper()
	outer := untar(t, mustOpen(t, path))
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(outer["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v", path, err)
	}
	files := map[string][]byte{"config": outer[manifest[0].Config]}
	for _, layer := range manifest[0].Layers {
		gz, err := gzip.NewReader(strings.NewReader(string(outer[layer])))
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range untar(t, gz) {
			files[name] = data
		}
	}
	return files
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v: run `make images`", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}
