# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which of an offline bundle's image archives a host still has to import.

The filters document themselves in ``plugins/filter/images_to_import.yml`` and
``plugins/filter/images_except.yml``.
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError


def normalize_ref(ref):
    """An image reference as the CRI reports it: the registry and library/ spelled out
    (``hakube/haproxy:1`` -> ``docker.io/hakube/haproxy:1``, ``pause:3`` ->
    ``docker.io/library/pause:3``), a missing tag as ``latest``."""
    name, sep, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    if not slash:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not sep:
        name += ":latest"
    return name + (sep + digest if sep else "")


def _runtime_tags(listing):
    """{reference: image id} from ``crictl images -o json``; None if it cannot be read."""
    if not listing or not str(listing).strip():
        return None
    try:
        doc = json.loads(listing)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        return None
    tags = {}
    for image in doc["images"]:
        for tag in image.get("repoTags") or []:
            tags[normalize_ref(tag)] = image.get("id")
    return tags


def images_to_import(images, runtime_listing):
    """The archives to copy to a host and how to treat each.

    ``images``: the bundle's images, ``[{file, refs, id}]`` (BUNDLE.json's ``images``;
    ``refs`` and ``id`` may be missing). ``runtime_listing``: the stdout of
    ``crictl images -o json`` on the host ("" when crictl could not answer).

    Returns ``[{file, refs, id, import, reason}]`` without the images the runtime holds
    already (every reference present with the bundle's image id). ``import`` is
    ``always`` when the runtime lacks the image or holds another under its name, and
    ``if_copied`` when the runtime cannot be compared with the bundle (no id in the
    bundle, or no listing): then the archive's copy on the host decides, as before.
    """
    if not isinstance(images, list):
        raise AnsibleFilterError("images_to_import expects a list of bundle images, got %s" % type(images).__name__)
    tags = _runtime_tags(runtime_listing)
    plan = []
    for image in images:
        if not isinstance(image, dict) or not image.get("file"):
            raise AnsibleFilterError("images_to_import: every bundle image needs a file, got %r" % (image,))
        refs = [normalize_ref(r) for r in image.get("refs") or []]
        image_id = image.get("id") or ""
        entry = dict(file=image["file"], refs=refs, id=image_id)
        if tags is None or not image_id or not refs:
            entry.update(import_="if_copied", reason="not comparable (%s)" % (
                "no image list from the runtime" if tags is None else "no image id or reference in the bundle"))
        else:
            missing = [r for r in refs if r not in tags]
            other = [r for r in refs if r in tags and tags[r] != image_id]
            if not missing and not other:
                continue
            entry.update(import_="always", reason="; ".join(
                (["missing: " + ", ".join(missing)] if missing else [])
                + (["another image under " + ", ".join(other)] if other else [])))
        entry["import"] = entry.pop("import_")
        plan.append(entry)
    return plan


def image_name(ref):
    """The image's own name in a reference: the last part of its repository
    (``registry.k8s.io/kube-apiserver:v1.36.3`` -> ``kube-apiserver``)."""
    name = ref.partition("@")[0].rsplit("/", 1)[-1]
    return name.partition(":")[0]


def images_except(images, names):
    """The bundle's images without those every reference of which names one of NAMES.

    An image with no references (an archive BUNDLE.json does not describe) is kept: it
    cannot be told apart."""
    if not isinstance(images, list):
        raise AnsibleFilterError("images_except expects a list of bundle images, got %s" % type(images).__name__)
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise AnsibleFilterError("images_except expects a list of image names, got %r" % (names,))
    left_out = set(names)
    kept = []
    for image in images:
        refs = image.get("refs") or [] if isinstance(image, dict) else []
        if refs and all(image_name(r) in left_out for r in refs):
            continue
        kept.append(image)
    return kept


class FilterModule(object):
    def filters(self):
        return {"images_to_import": images_to_import, "images_except": images_except}
