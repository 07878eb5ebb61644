# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The files of an offline bundle whose checksums its BUNDLE.json can be trusted for.

The filter documents itself in ``plugins/filter/bundle_manifest.yml``. Like Ansible's own
``is file`` test, it looks at the controller's file system.
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleFilterError

MANIFEST = "BUNDLE.json"


def bundle_manifest(bundle_dir):
    """{path in the bundle: {sha256, size}} for each file BUNDLE.json lists that is there
    as listed: the size it gives, and not modified after BUNDLE.json was written. Files
    that are not listed, or not as listed, are left out (the caller checksums those
    itself), and so is everything when the bundle has no BUNDLE.json."""
    if not isinstance(bundle_dir, str) or not bundle_dir:
        raise AnsibleFilterError("bundle_manifest expects the bundle directory's path, got %r" % (bundle_dir,))
    path = os.path.join(bundle_dir, MANIFEST)
    try:
        written = os.stat(path).st_mtime
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AnsibleFilterError("cannot read %s: %s" % (path, exc))
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        return {}
    trusted = {}
    for rel, entry in files.items():
        if not isinstance(entry, dict) or not entry.get("sha256") or not isinstance(entry.get("size"), int):
            continue
        try:
            st = os.stat(os.path.join(bundle_dir, rel))
        except OSError:
            continue
        if st.st_size == entry["size"] and st.st_mtime <= written:
            trusted[rel] = {"sha256": entry["sha256"], "size": entry["size"]}
    return trusted


class FilterModule(object):
    def filters(self):
        return {"bundle_manifest": bundle_manifest}
