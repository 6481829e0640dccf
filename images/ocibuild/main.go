// Command ocibuild assembles an OCI image archive from layer tarballs and an image config, for one or more
// platforms, with go-containerregistry (the library behind crane, ko and kaniko) doing the OCI work: manifests,
// config, digests, the multi-platform index and the OCI layout. It adds nothing to the layers it is given and
// stamps every timestamp with a fixed instant, so the same inputs give the same digest.
//
//	ocibuild < spec.json     (see images/build.sh for the spec)
//
// Prints the index digest on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type platformSpec struct {
	OS      string   `json:"os"`
	Arch    string   `json:"arch"`
	Variant string   `json:"variant,omitempty"`
	Layers  []string `json:"layers"`
}

type spec struct {
	// Full reference the archive carries (io.containerd.image.name), e.g. ghcr.io/sidecar-destruct/sidecar:0.1.0.
	Name string `json:"name"`
	// Written into the OCI layout directory; the caller tars it.
	Layout string `json:"layout"`
	// When set, the index is also pushed there (credentials from the Docker config, as crane does).
	Push       string            `json:"push,omitempty"`
	Created    int64             `json:"created"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd,omitempty"`
	User       string            `json:"user"`
	Env        []string          `json:"env"`
	WorkingDir string            `json:"workingDir,omitempty"`
	Ports      []string          `json:"exposedPorts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Platforms  []platformSpec    `json:"platforms"`
}

func build(s spec) (v1.ImageIndex, error) {
	created := v1.Time{Time: time.Unix(s.Created, 0).UTC()}
	var adds []mutate.IndexAddendum
	for _, p := range s.Platforms {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		for _, path := range p.Layers {
			layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", path, err)
			}
			img, err = mutate.Append(img, mutate.Addendum{
				Layer:   layer,
				History: v1.History{Created: created, CreatedBy: "images/build.sh: " + filepath.Base(path)},
			})
			if err != nil {
				return nil, err
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Arch, p.Variant
		cf.Created = created
		cf.Config.Entrypoint = s.Entrypoint
		cf.Config.Cmd = s.Cmd
		cf.Config.User = s.User
		cf.Config.Env = s.Env
		cf.Config.WorkingDir = s.WorkingDir
		cf.Config.Labels = s.Labels
		if len(s.Ports) > 0 {
			cf.Config.ExposedPorts = map[string]struct{}{}
			for _, port := range s.Ports {
				cf.Config.ExposedPorts[port] = struct{}{}
			}
		}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}},
		})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}

func run() error {
	var s spec
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("spec on stdin: %w", err)
	}
	ref, err := name.NewTag(s.Name)
	if err != nil {
		return fmt.Errorf("name %q: %w", s.Name, err)
	}
	idx, err := build(s)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(s.Layout); err != nil {
		return err
	}
	path, err := layout.Write(s.Layout, empty.Index)
	if err != nil {
		return err
	}
	// Both names: containerd's importer reads io.containerd.image.name, other tools the OCI ref name.
	if err := path.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":         ref.String(),
		"org.opencontainers.image.ref.name": ref.TagStr(),
	})); err != nil {
		return err
	}
	if s.Push != "" {
		dst, err := name.NewTag(s.Push)
		if err != nil {
			return fmt.Errorf("push %q: %w", s.Push, err)
		}
		if err := remote.WriteIndex(dst, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", dst, err)
		}
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(digest.String())
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ocibuild:", err)
		os.Exit(1)
	}
}
