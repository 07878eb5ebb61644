"""Unit tests of plugins/filter/images.py (images_to_import), with crictl output shaped
as `crictl images -o json` prints it (taken from a lab node, ids shortened)."""
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter.images import FilterModule, images_to_import, normalize_ref

ETCD = "sha256:" + "c" * 64
HAPROXY = "sha256:" + "8" * 64
BUNDLE = [
    {"file": "images/etcd-3.6.8-0.tar", "refs": ["registry.k8s.io/etcd:3.6.8-0"], "id": ETCD},
    {"file": "images/haproxy-2.6.12-1_deb12u3.tar", "refs": ["hakube/haproxy:2.6.12-1_deb12u3"], "id": HAPROXY},
]


def listing(*images):
    return json.dumps({"images": [{"id": i, "repoTags": tags, "repoDigests": [], "size": "1", "pinned": False}
                                  for i, tags in images]})


def test_filter_name():
    assert list(FilterModule().filters()) == ["images_to_import", "images_except"]


@pytest.mark.parametrize("ref,want", [
    ("hakube/haproxy:1", "docker.io/hakube/haproxy:1"),
    ("pause:3.10", "docker.io/library/pause:3.10"),
    ("registry.k8s.io/etcd:3.6.8-0", "registry.k8s.io/etcd:3.6.8-0"),
    ("localhost/x:1", "localhost/x:1"),
    ("registry:5000/x:1", "registry:5000/x:1"),
    ("quay.io/tigera/operator", "quay.io/tigera/operator:latest"),
    ("docker.io/hakube/keepalived:2", "docker.io/hakube/keepalived:2"),
])
def test_normalize_ref(ref, want):
    assert normalize_ref(ref) == want


def test_nothing_to_do_when_the_runtime_holds_every_image():
    out = listing((ETCD, ["registry.k8s.io/etcd:3.6.8-0"]), (HAPROXY, ["docker.io/hakube/haproxy:2.6.12-1_deb12u3"]))
    assert images_to_import(BUNDLE, out) == []


def test_missing_and_replaced_images_are_imported_always():
    out = listing((ETCD, ["registry.k8s.io/etcd:3.6.8-0"]))
    plan = images_to_import(BUNDLE, out)
    assert [(p["file"], p["import"]) for p in plan] == [("images/haproxy-2.6.12-1_deb12u3.tar", "always")]
    assert plan[0]["reason"] == "missing: docker.io/hakube/haproxy:2.6.12-1_deb12u3"
    other = listing(("sha256:" + "0" * 64, ["registry.k8s.io/etcd:3.6.8-0"]),
                    (HAPROXY, ["docker.io/hakube/haproxy:2.6.12-1_deb12u3"]))
    plan = images_to_import(BUNDLE, other)
    assert [(p["file"], p["import"]) for p in plan] == [("images/etcd-3.6.8-0.tar", "always")]
    assert plan[0]["reason"] == "another image under registry.k8s.io/etcd:3.6.8-0"


@pytest.mark.parametrize("bad", ["", "   ", "not json", json.dumps({"nope": 1}), json.dumps([1])])
def test_without_a_listing_every_archive_is_compared_by_checksum(bad):
    plan = images_to_import(BUNDLE, bad)
    assert [p["import"] for p in plan] == ["if_copied", "if_copied"]
    assert all("no image list" in p["reason"] for p in plan)


def test_images_the_bundle_cannot_name_are_compared_by_checksum():
    out = listing((ETCD, ["registry.k8s.io/etcd:3.6.8-0"]))
    plan = images_to_import([{"file": "images/x.tar"}, {"file": "images/y.tar", "refs": ["y:1"], "id": ""}], out)
    assert [(p["file"], p["import"]) for p in plan] == [("images/x.tar", "if_copied"), ("images/y.tar", "if_copied")]


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="list of bundle images"):
        images_to_import({"file": "x"}, "")
    with pytest.raises(AnsibleFilterError, match="needs a file"):
        images_to_import([{"refs": ["x"]}], "")


def test_images_except_leaves_out_what_a_host_does_not_run():
    from ansible_collections.hakube.cluster.plugins.filter.images import images_except, image_name
    bundle = [
        {"file": "images/kube-apiserver.tar", "refs": ["registry.k8s.io/kube-apiserver:v1.36.3"], "id": "a"},
        {"file": "images/etcd.tar", "refs": ["registry.k8s.io/etcd:3.6.8-0", "mirror.example/etcd@sha256:ab"], "id": "e"},
        {"file": "images/pause.tar", "refs": ["registry.k8s.io/pause:3.10.2"], "id": "p"},
        {"file": "images/haproxy.tar", "refs": ["hakube/haproxy:2.6.12-1_deb12u3"], "id": "h"},
        # Another name beside a left-out one: some host may want it under that name.
        {"file": "images/mixed.tar", "refs": ["registry.k8s.io/kube-scheduler:v1", "example.org/tools:1"], "id": "m"},
        {"file": "images/unknown.tar"},
    ]
    assert image_name("localhost:5000/kube-proxy:v1") == "kube-proxy"
    assert image_name("etcd") == "etcd"
    kept = images_except(bundle, ["kube-apiserver", "kube-scheduler", "etcd", "haproxy"])
    assert [i["file"] for i in kept] == ["images/pause.tar", "images/mixed.tar", "images/unknown.tar"]
    assert images_except(bundle, []) == bundle
    assert FilterModule().filters()["images_except"] is images_except
    with pytest.raises(AnsibleFilterError, match="list of image names"):
        images_except(bundle, "etcd")
    with pytest.raises(AnsibleFilterError, match="list of bundle images"):
        images_except("x", [])
