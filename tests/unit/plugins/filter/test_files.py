"""Unit tests of plugins/filter/files.py (files_in_place), with entries shaped as
ansible.builtin.find returns them."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter.files import FilterModule, files_in_place


def entry(name, checksum, mode="0755", owner="root", group="root"):
    return {"path": "/usr/local/bin/" + name, "checksum": checksum, "mode": mode, "pw_name": owner, "gr_name": group}


def test_filter_name():
    assert list(FilterModule().filters()) == ["files_in_place"]


def test_content_owner_and_mode_must_all_match():
    found = [entry("kubeadm", "a"), entry("kubelet", "old"), entry("kubectl", "c", mode="0644"),
             entry("crictl", "d", owner="nobody"), entry("etcd", "e", group="adm")]
    wanted = {"kubeadm": "a", "kubelet": "b", "kubectl": "c", "crictl": "d", "etcd": "e", "missing": "f"}
    assert files_in_place(found, wanted, "0755") == ["kubeadm"]


def test_order_follows_wanted_and_empty_checksums_never_match():
    found = [entry("b", "2"), entry("a", "1"), entry("c", "")]
    assert files_in_place(found, {"a": "1", "b": "2", "c": ""}, "0755") == ["a", "b"]
    assert files_in_place([], {"a": "1"}, "0755") == []
    assert files_in_place(None, {"a": "1"}, "0755") == []


def test_other_mode_and_owner():
    found = [entry("kubeadm", "x", mode="0644", owner="app", group="app")]
    assert files_in_place(found, {"kubeadm": "x"}, "0644", "app", "app") == ["kubeadm"]


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="name: sha1"):
        files_in_place([], ["kubeadm"], "0755")
