// The deploy plugin's OCI target (`format = "oci"`): the target directory
// is an OCI image layout (image-spec v1.1 image-layout.md) -- `oci-layout`,
// `index.json`, `blobs/sha256/HEX` -- that registries' tools read (skopeo
// `oci:DIR:ENVIRONMENT`, oras, umoci). A release is one image manifest in
// the artifact form of image-spec 1.1: artifactType
// application/vnd.wrt.release.v1, the empty config descriptor, one layer per
// artifact (annotated with org.opencontainers.image.title = its name, as
// oras does), tagged in index.json with the environment's name
// (org.opencontainers.image.ref.name). Promotion re-tags the same manifest
// digest.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plugins/deploy/ledger.h"

namespace wrt::deploy {

// The layer media type for an artifact name (.tar -> ...layer.v1.tar,
// .tar.gz/.tgz -> +gzip, .tar.zst -> +zstd, else application/octet-stream).
std::string layer_media_type(const std::string& name);

// The manifest's bytes (canonical: one text per input).
std::string oci_manifest(const std::vector<Artifact>& artifacts, const std::map<std::string, std::string>& annotations);

// Writes `oci-layout`, the empty config blob and the manifest blob, then
// points tag `ref` at the manifest in index.json (replacing what it named),
// through a temporary file and a rename. The layers' blobs must already be
// in place. Returns "" or why not.
std::string oci_tag(const std::string& layout_dir, const std::string& manifest, const std::string& ref);

// The manifest digest ("sha256:HEX") tag `ref` names in index.json, "" when none.
std::string oci_tagged(const std::string& layout_dir, const std::string& ref);

}  // namespace wrt::deploy
