// Command image builds a container image without a Docker engine: one layer
// holding the given files, the Dockerfile runtime stage's entrypoint and user,
// written as a tarball that `ctr images import` takes. The cluster test builds
// the operator's image and the pause image with it.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type files []string // path-in-image=path-on-disk

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var add files
	tag := flag.String("tag", "", "the image's name and tag")
	out := flag.String("out", "", "the tarball to write")
	entrypoint := flag.String("entrypoint", "", "the entrypoint, a path in the image")
	user := flag.String("user", "65532:65532", "the user the entrypoint runs as")
	flag.Var(&add, "file", "path-in-image=path-on-disk, repeatable; executables keep mode 0755")
	flag.Parse()
	if err := build(*tag, *out, *entrypoint, *user, add); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(tag, out, entrypoint, user string, add files) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	layerTar, err := layer(add)
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromReader(bytes.NewReader(layerTar))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: time.Unix(0, 0)},
		Config: v1.Config{Entrypoint: []string{entrypoint}, User: user, WorkingDir: "/",
			Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
		RootFS: mustRootFS(img),
	})
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}

func mustRootFS(img v1.Image) v1.RootFS {
	cfg, err := img.ConfigFile()
	if err != nil {
		panic(err)
	}
	return cfg.RootFS
}

// layer is a tar of the files with their parent folders, owned by root; the
// mode on disk decides between 0755 and 0644.
func layer(add files) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range add {
		inImage, onDisk, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--file %q: want path-in-image=path-on-disk", f)
		}
		data, err := os.ReadFile(onDisk)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(onDisk)
		if err != nil {
			return nil, err
		}
		inImage = strings.TrimPrefix(inImage, "/")
		parts := strings.Split(inImage, "/")
		for i := 1; i < len(parts); i++ {
			dir := strings.Join(parts[:i], "/") + "/"
			if !dirs[dir] {
				dirs[dir] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
					return nil, err
				}
			}
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: inImage, Mode: mode, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
