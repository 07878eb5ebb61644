"""Unit tests of plugins/filter/bundle.py (bundle_manifest) on real bundle directories."""
import hashlib
import json
import os
import time

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter.bundle import FilterModule, bundle_manifest


def make_bundle(root, files, manifest_extra=None):
    (root / "bin").mkdir(parents=True)
    entries = {}
    for rel, data in files.items():
        (root / rel).write_bytes(data)
        entries[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "mode": "0o755"}
    entries.update(manifest_extra or {})
    # BUNDLE.json is written last, as the bundle builders do.
    past = time.time() - 60
    for rel in files:
        os.utime(str(root / rel), (past, past))
    (root / "BUNDLE.json").write_text(json.dumps({"format": "hakube-bundle/v1", "files": entries}))
    return entries


def test_files_as_listed_are_vouched_for(tmp_path):
    entries = make_bundle(tmp_path, {"bin/kubeadm": b"adm", "bin/kubelet": b"let"})
    assert bundle_manifest(str(tmp_path)) == {
        "bin/kubeadm": {"sha256": entries["bin/kubeadm"]["sha256"], "size": 3},
        "bin/kubelet": {"sha256": entries["bin/kubelet"]["sha256"], "size": 3}}
    assert FilterModule().filters() == {"bundle_manifest": bundle_manifest}


def test_files_not_as_listed_are_left_out(tmp_path):
    make_bundle(tmp_path, {"bin/kubeadm": b"adm", "bin/kubelet": b"let", "bin/kubectl": b"ctl"},
                {"bin/crictl": {"sha256": "ab", "size": 2}, "bin/odd": {"sha256": "", "size": 1}})
    # Replaced by hand after the manifest was written: same size, newer.
    (tmp_path / "bin" / "kubelet").write_bytes(b"LET")
    # Another size, with an old modification time.
    (tmp_path / "bin" / "kubectl").write_bytes(b"kubectl")
    os.utime(str(tmp_path / "bin" / "kubectl"), (time.time() - 60, time.time() - 60))
    assert list(bundle_manifest(str(tmp_path))) == ["bin/kubeadm"]


def test_links_are_followed(tmp_path):
    real = tmp_path / "real"
    make_bundle(real, {"bin/kubeadm": b"adm"})
    link = tmp_path / "linked"
    (link / "bin").mkdir(parents=True)
    os.symlink(str(real / "bin" / "kubeadm"), str(link / "bin" / "kubeadm"))
    (link / "BUNDLE.json").write_text((real / "BUNDLE.json").read_text())
    assert list(bundle_manifest(str(link))) == ["bin/kubeadm"]


def test_no_or_odd_manifest(tmp_path):
    assert bundle_manifest(str(tmp_path)) == {}
    (tmp_path / "BUNDLE.json").write_text(json.dumps({"format": "hakube-bundle/v1"}))
    assert bundle_manifest(str(tmp_path)) == {}
    (tmp_path / "BUNDLE.json").write_text("{not json")
    with pytest.raises(AnsibleFilterError, match="cannot read"):
        bundle_manifest(str(tmp_path))
    with pytest.raises(AnsibleFilterError, match="bundle directory"):
        bundle_manifest(None)
