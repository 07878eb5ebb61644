#!/usr/bin/env python
"""Write BUNDLE.json for a hakube offline bundle directory.

    manifest.py BUNDLE_DIR K8S_VERSION [MADE_BY]

Reads every file under bin/, images/ and manifests/ (sha256 and size), the image
references inside each image tarball (docker-save manifest.json RepoTags, or the OCI
index's org.opencontainers.image.ref.name / io.containerd.image.name annotations), and
the per-piece provenance records under .build/provenance/. The format is described in
docs/bundle.md. Only the standard library is used.
"""
import datetime
import hashlib
import json
import os
import sys
import tarfile

FORMAT = "hakube-bundle/v1"
TOP_DIRS = ("bin", "images", "manifests")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest_of(blob_name):
    """'sha256:<hex>' from a docker-save config name (<hex>.json, blobs/sha256/<hex>)."""
    base = os.path.basename(blob_name)
    if base.endswith(".json"):
        base = base[:-5]
    return "sha256:" + base if len(base) == 64 else ""


def image_refs(path):
    """(image names, image id) held by a docker-save or OCI-layout tarball.

    The image id is the digest of the image's config, which the CRI reports as the
    image's id (``crictl images``): kube_packages compares it to tell whether a host's
    runtime holds this very image. '' when the tarball holds several images or none.
    """
    refs, ids = [], []
    try:
        with tarfile.open(path) as tar:
            names = tar.getnames()
            if "manifest.json" in names:
                for entry in json.load(tar.extractfile("manifest.json")):
                    refs.extend(entry.get("RepoTags") or [])
                    ids.append(_digest_of(entry.get("Config", "")))
            if not refs and "index.json" in names:
                for m in json.load(tar.extractfile("index.json")).get("manifests", []):
                    ann = m.get("annotations", {})
                    ref = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name")
                    if ref:
                        refs.append(ref)
                    blob = "blobs/" + m.get("digest", "").replace(":", "/")
                    if blob in names and m.get("mediaType", "").endswith("manifest.v1+json"):
                        ids.append(json.load(tar.extractfile(blob)).get("config", {}).get("digest", ""))
    except (tarfile.TarError, OSError, ValueError) as exc:
        print(f"manifest: cannot read {path}: {exc}", file=sys.stderr)
    ids = sorted(set(i for i in ids if i))
    return refs, ids[0] if len(ids) == 1 else ""


def main():
    root, k8s_version = sys.argv[1], sys.argv[2]
    made_by = sys.argv[3] if len(sys.argv) > 3 else "tests/bundle/build-from-source"
    files, images = {}, []
    for top in TOP_DIRS:
        base = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".id", ".tmp")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                files[rel] = {"sha256": sha256(full), "size": os.path.getsize(full)}
                if top == "bin":
                    files[rel]["mode"] = oct(os.stat(full).st_mode & 0o777)
                if top == "images" and name.endswith(".tar"):
                    refs, image_id = image_refs(full)
                    images.append({"file": rel, "refs": refs, "id": image_id})
    pieces = {}
    prov = os.path.join(root, ".build", "provenance")
    if os.path.isdir(prov):
        for name in sorted(os.listdir(prov)):
            if name.endswith(".json"):
                with open(os.path.join(prov, name)) as f:
                    data = json.load(f)
                pieces[data.pop("piece", name[:-5])] = data
    versions = {name: p["version"] for name, p in pieces.items() if "version" in p}
    if "etcd" in pieces and "image_tag" in pieces["etcd"]:
        versions["etcd_image"] = pieces["etcd"]["image_tag"]
    doc = {
        "format": FORMAT,
        "kubernetes_version": k8s_version,
        "arch": "amd64",
        "os": "linux",
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "made_by": made_by,
        "versions": versions,
        "images": images,
        "files": files,
        "pieces": pieces,
    }
    out = os.path.join(root, "BUNDLE.json")
    # Keep `created` when nothing else changed, so a rerun leaves the file as it was.
    try:
        with open(out) as f:
            old = json.load(f)
        if {k: v for k, v in old.items() if k != "created"} == {k: v for k, v in doc.items() if k != "created"}:
            doc["created"] = old["created"]
    except (OSError, ValueError, KeyError):
        pass
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(f"manifest: {out}: {len(files)} files, {len(images)} images")


if __name__ == "__main__":
    main()
