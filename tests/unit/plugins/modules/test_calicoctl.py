"""Unit tests for hakube.cluster.calicoctl and calicoctl_info.

The modules run for real (AnsibleModule, run_command, temp files) against the
stand-in calicoctl in fakes/calicoctl, which keeps its datastore in a JSON file and
answers like the real tool (see its docstring for where the formats come from).
"""
import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hakube.cluster.plugins.module_utils import calico
from ansible_collections.hakube.cluster.plugins.modules import calicoctl as calicoctl_module
from ansible_collections.hakube.cluster.plugins.modules import calicoctl_info as info_module

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes", "calicoctl")

PEER = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "BGPPeer",
    "metadata": {"name": "openwrt-peer", "labels": {"hakube.io/managed-by": "hakube"}},
    "spec": {"peerIP": "10.31.254.253", "keepOriginalNextHop": True, "asNumber": 64512},
}


class Datastore:
    """The fake's state file and call log."""

    def __init__(self, tmp_path, monkeypatch):
        self.state = tmp_path / "state.json"
        self.log = tmp_path / "calls.jsonl"
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("FAKE_CALICOCTL_STATE", str(self.state))
        monkeypatch.setenv("FAKE_CALICOCTL_LOG", str(self.log))
        # the stand-in starts with "#!/usr/bin/env python": find this interpreter first
        monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        for var in ("FAKE_CALICOCTL_VERSION", "FAKE_CALICOCTL_CLUSTER_VERSION",
                    "FAKE_CALICOCTL_UNREACHABLE", "FAKE_CALICOCTL_SLEEP", "FAKE_CALICOCTL_FAIL"):
            monkeypatch.delenv(var, raising=False)

    def seed(self, *objects):
        data = {"objects": [], "rv": 100}
        for i, obj in enumerate(objects):
            obj = json.loads(json.dumps(obj))
            obj["metadata"].update(resourceVersion=str(50 + i), uid="uid-%d" % i,
                                   creationTimestamp="2026-01-01T00:00:00Z")
            data["objects"].append(obj)
        self.state.write_text(json.dumps(data))

    def objects(self):
        if not self.state.exists():
            return []
        return json.loads(self.state.read_text())["objects"]

    def obj(self, kind, name):
        for o in self.objects():
            if o["kind"] == kind and o["metadata"]["name"] == name:
                return o
        return None

    def calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def verbs(self):
        return [c["argv"][0] for c in self.calls()]

    def env(self, **kwargs):
        for key, value in kwargs.items():
            self.monkeypatch.setenv("FAKE_CALICOCTL_" + key.upper(), str(value))


@pytest.fixture
def ds(tmp_path, monkeypatch):
    return Datastore(tmp_path, monkeypatch)


def run(module, args, check_mode=False, diff=False):
    """Run a module's main(); returns (failed, result)."""
    args = dict(args)
    args.setdefault("calicoctl_path", FAKE)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            module.main()
    return exc.value.code


@pytest.fixture
def capture(capsys):
    def _run(module, args, **kwargs):
        code = run(module, args, **kwargs)
        out = capsys.readouterr().out
        result = json.loads(out)
        return code, result
    return _run


# ---------------------------------------------------------------- present

def test_create_when_missing(ds, capture):
    code, res = capture(calicoctl_module, {"definition": PEER, "kubeconfig": "/etc/kubernetes/admin.conf"})
    assert code == 0, res
    assert res["changed"] is True
    assert res["action"] == "create"
    assert res["stdout"].strip() == "Successfully created 1 'BGPPeer' resource(s)"
    assert ds.obj("BGPPeer", "openwrt-peer")["spec"]["asNumber"] == 64512
    assert res["resource"]["metadata"]["uid"]
    calls = ds.calls()
    assert calls[0]["argv"][:3] == ["get", "BGPPeer", "openwrt-peer"]
    assert calls[1]["argv"][0] == "create"
    assert all(c["DATASTORE_TYPE"] == "kubernetes" for c in calls)
    assert all(c["KUBECONFIG"] == "/etc/kubernetes/admin.conf" for c in calls)


def test_unchanged_when_equal_despite_server_fields(ds, capture):
    ds.seed(PEER)
    code, res = capture(calicoctl_module, {"definition": PEER})
    assert code == 0
    assert res["changed"] is False
    assert res["action"] == "none"
    assert ds.verbs() == ["get"]


def test_server_defaults_are_not_drift(ds, capture):
    pool = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
            "spec": {"cidr": "10.33.0.0/17", "blockSize": 24}}
    code, res = capture(calicoctl_module, {"definition": pool})
    assert res["changed"] is True
    assert ds.obj("IPPool", "p")["spec"]["vxlanMode"] == "Never"  # the fake's server default
    code, res = capture(calicoctl_module, {"definition": pool})
    assert code == 0 and res["changed"] is False


def test_scalar_types_from_inventory_match(ds, capture):
    ds.seed(PEER)
    peer = json.loads(json.dumps(PEER))
    peer["spec"]["asNumber"] = "64512"
    peer["spec"]["keepOriginalNextHop"] = "true"
    code, res = capture(calicoctl_module, {"definition": peer})
    assert res["changed"] is False


def test_apply_on_difference_with_diff(ds, capture):
    ds.seed(PEER)
    peer = json.loads(json.dumps(PEER))
    peer["spec"]["asNumber"] = 64513
    code, res = capture(calicoctl_module, {"definition": peer}, diff=True)
    assert code == 0
    assert res["changed"] is True and res["action"] == "apply"
    assert res["stdout"].strip() == "Successfully applied 1 'BGPPeer' resource(s)"
    assert res["diff"]["before"]["spec"]["asNumber"] == 64512
    assert res["diff"]["after"]["spec"]["asNumber"] == 64513
    assert "resourceVersion" not in res["diff"]["before"]["metadata"]
    live = ds.obj("BGPPeer", "openwrt-peer")
    assert live["spec"]["asNumber"] == 64513
    assert live["metadata"]["uid"] == "uid-0"


def test_list_compared_as_declared(ds, capture):
    cfg = {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
           "metadata": {"name": "default"},
           "spec": {"serviceClusterIPs": [{"cidr": "10.33.128.0/18"}, {"cidr": "10.34.0.0/16"}]}}
    ds.seed(cfg)
    reordered = json.loads(json.dumps(cfg))
    reordered["spec"]["serviceClusterIPs"].reverse()
    code, res = capture(calicoctl_module, {"definition": reordered})
    assert res["changed"] is True
    shorter = json.loads(json.dumps(cfg))
    shorter["spec"]["serviceClusterIPs"] = shorter["spec"]["serviceClusterIPs"][:1]
    code, res = capture(calicoctl_module, {"definition": shorter})
    assert res["changed"] is True
    assert ds.obj("BGPConfiguration", "default")["spec"]["serviceClusterIPs"] == [{"cidr": "10.33.128.0/18"}]


def test_check_mode_create_and_apply_write_nothing(ds, capture):
    code, res = capture(calicoctl_module, {"definition": PEER}, check_mode=True, diff=True)
    assert res["changed"] is True and res["action"] == "create"
    assert res["diff"]["before"] == {}
    assert ds.objects() == []
    ds.seed(PEER)
    peer = json.loads(json.dumps(PEER))
    peer["spec"]["peerIP"] = "10.31.254.1"
    code, res = capture(calicoctl_module, {"definition": peer}, check_mode=True)
    assert res["changed"] is True and res["action"] == "apply"
    assert ds.obj("BGPPeer", "openwrt-peer")["spec"]["peerIP"] == "10.31.254.253"
    assert set(ds.verbs()) == {"get"}


def test_short_options_build_the_resource(ds, capture):
    code, res = capture(calicoctl_module, {
        "kind": "BGPPeer", "name": "tiny-unraid-peer",
        "labels": {"hakube.io/managed-by": "hakube"},
        "spec": {"peerIP": "10.31.100.100", "asNumber": 64516, "keepOriginalNextHop": True}})
    assert code == 0 and res["changed"] is True
    live = ds.obj("BGPPeer", "tiny-unraid-peer")
    assert live["apiVersion"] == "projectcalico.org/v3"
    assert live["metadata"]["labels"] == {"hakube.io/managed-by": "hakube"}


def test_label_change_is_drift_and_foreign_labels_stay(ds, capture):
    peer = json.loads(json.dumps(PEER))
    peer["metadata"]["labels"]["team"] = "net"
    ds.seed(peer)
    code, res = capture(calicoctl_module, {"definition": PEER})
    assert res["changed"] is False  # undeclared label is not drift
    changed = json.loads(json.dumps(PEER))
    changed["metadata"]["labels"]["rack"] = "a1"
    code, res = capture(calicoctl_module, {"definition": changed})
    assert res["changed"] is True
    assert ds.obj("BGPPeer", "openwrt-peer")["metadata"]["labels"] == {
        "hakube.io/managed-by": "hakube", "team": "net", "rack": "a1"}


def test_merge_keeps_undeclared_fields(ds, capture):
    node = {"apiVersion": "projectcalico.org/v3", "kind": "Node",
            "metadata": {"name": "m1"},
            "spec": {"bgp": {"ipv4Address": "10.31.90.1/16"}, "addresses": [{"address": "10.31.90.1"}]}}
    ds.seed(node)
    code, res = capture(calicoctl_module, {"kind": "Node", "name": "m1", "merge": True,
                                           "spec": {"bgp": {"routeReflectorClusterID": "244.0.0.1"}}})
    assert code == 0 and res["changed"] is True
    spec = ds.obj("Node", "m1")["spec"]
    assert spec["bgp"] == {"ipv4Address": "10.31.90.1/16", "routeReflectorClusterID": "244.0.0.1"}
    assert spec["addresses"] == [{"address": "10.31.90.1"}]
    code, res = capture(calicoctl_module, {"kind": "Node", "name": "m1", "merge": True,
                                           "spec": {"bgp": {"routeReflectorClusterID": "244.0.0.1"}}})
    assert res["changed"] is False


def test_merge_null_removes_a_field(ds, capture):
    node = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "m1"},
            "spec": {"bgp": {"ipv4Address": "10.31.90.1/16", "routeReflectorClusterID": "244.0.0.1"}}}
    ds.seed(node)
    clear = {"kind": "Node", "name": "m1", "merge": True, "spec": {"bgp": {"routeReflectorClusterID": None}}}
    code, res = capture(calicoctl_module, clear, check_mode=True, diff=True)
    assert code == 0 and res["changed"] is True and res["action"] == "apply"
    assert res["diff"]["before"]["spec"]["bgp"] == {"routeReflectorClusterID": "244.0.0.1"}
    assert ds.obj("Node", "m1")["spec"]["bgp"]["routeReflectorClusterID"] == "244.0.0.1"
    code, res = capture(calicoctl_module, clear)
    assert code == 0 and res["changed"] is True
    assert ds.obj("Node", "m1")["spec"] == {"bgp": {"ipv4Address": "10.31.90.1/16"}}
    writes = [c for c in ds.calls() if c["argv"][0] == "apply"]
    assert len(writes) == 1
    code, res = capture(calicoctl_module, clear)
    assert code == 0 and res["changed"] is False


def test_definition_server_metadata_is_ignored(ds, capture):
    ds.seed(PEER)
    copied = json.loads(json.dumps(ds.obj("BGPPeer", "openwrt-peer")))
    copied["metadata"]["resourceVersion"] = "1"
    copied["status"] = {"x": 1}
    code, res = capture(calicoctl_module, {"definition": copied})
    assert code == 0 and res["changed"] is False


def test_namespaced_kind_passes_namespace(ds, capture):
    netset = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
              "metadata": {"name": "ns1", "namespace": "prod"}, "spec": {"nets": ["10.0.0.0/8"]}}
    code, res = capture(calicoctl_module, {"definition": netset})
    assert code == 0 and res["changed"] is True
    assert ds.calls()[0]["argv"][-2:] == ["--namespace", "prod"]


# ---------------------------------------------------------------- absent

def test_absent_deletes(ds, capture):
    ds.seed(PEER)
    code, res = capture(calicoctl_module, {"kind": "BGPPeer", "name": "openwrt-peer", "state": "absent"},
                        diff=True)
    assert code == 0 and res["changed"] is True and res["action"] == "delete"
    assert res["stdout"].strip() == "Successfully deleted 1 'BGPPeer' resource(s)"
    assert res["diff"]["after"] == {}
    assert ds.objects() == []


def test_absent_when_missing_is_ok(ds, capture):
    code, res = capture(calicoctl_module, {"kind": "BGPPeer", "name": "gone", "state": "absent"})
    assert code == 0 and res["changed"] is False
    assert ds.verbs() == ["get"]


def test_absent_check_mode(ds, capture):
    ds.seed(PEER)
    code, res = capture(calicoctl_module, {"kind": "BGPPeer", "name": "openwrt-peer", "state": "absent"},
                        check_mode=True)
    assert res["changed"] is True
    assert len(ds.objects()) == 1


# ---------------------------------------------------------------- errors

def test_missing_binary(ds, capture, tmp_path):
    code, res = capture(calicoctl_module, {"definition": PEER, "calicoctl_path": str(tmp_path / "nope")})
    assert code == 1 and res["failed"] is True
    assert res["reason"] == "missing"
    assert "not found" in res["msg"]


def test_missing_binary_by_name(ds, capture, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, res = capture(calicoctl_module, {"definition": PEER, "calicoctl_path": "calicoctl-nonexistent"})
    assert code == 1 and res["reason"] == "missing"


def test_found_by_name_in_path(ds, capture, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(FAKE) + os.pathsep + os.environ["PATH"])
    code, res = capture(calicoctl_module, {"definition": PEER, "calicoctl_path": "calicoctl"})
    assert code == 0 and res["changed"] is True


def test_unreachable_datastore(ds, capture):
    ds.env(unreachable=1)
    code, res = capture(calicoctl_module, {"definition": PEER, "kubeconfig": "/etc/kubernetes/admin.conf"})
    assert code == 1 and res["reason"] == "unreachable"
    assert "cannot be reached" in res["msg"] and "/etc/kubernetes/admin.conf" in res["msg"]
    assert "connection refused" in res["msg"]


def test_unreachable_on_version_check(ds, capture):
    # calicoctl version prints the client version, then fails: the module reads the
    # version, then the get fails with the datastore error.
    ds.env(unreachable=1)
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "3.33.1"})
    assert code == 1 and res["reason"] == "unreachable"
    assert res["calicoctl_version"] == "v3.33.1"


def test_expected_version_ok(ds, capture):
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "v3.33.1"})
    assert code == 0 and res["calicoctl_version"] == "v3.33.1"
    assert ds.verbs()[0] == "version"


def test_expected_version_differs(ds, capture):
    ds.env(version="v3.32.4")
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "3.33.1"})
    assert code == 1 and res["reason"] == "version_mismatch"
    assert "v3.32.4" in res["msg"] and "3.33.1" in res["msg"]
    assert ds.verbs() == ["version"]


def test_expected_version_differs_but_allowed(ds, capture):
    ds.env(version="v3.32.4")
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "3.33.1",
                                           "allow_version_mismatch": True})
    assert code == 0 and res["calicoctl_version"] == "v3.32.4"
    assert all("--allow-version-mismatch" in c["argv"] for c in ds.calls() if c["argv"][0] != "version")


def test_cluster_version_mismatch_reported(ds, capture):
    ds.env(cluster_version="v3.33.2")
    code, res = capture(calicoctl_module, {"definition": PEER})
    assert code == 1 and res["reason"] == "version_mismatch"
    assert "allow_version_mismatch" in res["msg"]


def test_cluster_version_mismatch_allowed(ds, capture):
    ds.env(cluster_version="v3.33.2")
    code, res = capture(calicoctl_module, {"definition": PEER, "allow_version_mismatch": True})
    assert code == 0 and res["changed"] is True


def test_timeout(ds, capture):
    ds.env(sleep=5)
    code, res = capture(calicoctl_module, {"definition": PEER, "timeout": 1})
    assert code == 1 and res["reason"] == "timeout"
    assert "1 seconds" in res["msg"]


def test_apply_failure_is_reported(ds, capture):
    ds.seed(PEER)
    ds.env(fail="apply:Failed to apply 'BGPPeer' resource: [error with field PeerIP = '10.31.254.999' "
                "(invalid IP address)]")
    peer = json.loads(json.dumps(PEER))
    peer["spec"]["peerIP"] = "10.31.254.999"
    code, res = capture(calicoctl_module, {"definition": peer})
    assert code == 1 and res["reason"] == "failed"
    assert "invalid IP address" in res["msg"] and res["rc"] == 1


def test_create_conflict_is_reported(ds, capture):
    ds.env(fail="create:Failed to create 'BGPPeer' resource: [resource already exists: BGPPeer(openwrt-peer)]")
    code, res = capture(calicoctl_module, {"definition": PEER})
    assert code == 1 and "already exists" in res["msg"]


def test_delete_race_not_found_is_ok(ds, capture):
    ds.seed(PEER)
    ds.env(fail="delete:Failed to delete 'BGPPeer' resource: [resource does not exist: "
                "BGPPeer(openwrt-peer) with error: bgppeers.crd.projectcalico.org \"openwrt-peer\" not found]")
    code, res = capture(calicoctl_module, {"kind": "BGPPeer", "name": "openwrt-peer", "state": "absent"})
    assert code == 0 and res["changed"] is True


@pytest.mark.parametrize("args, message", [
    ({"spec": {"a": 1}, "name": "x", "definition": {"metadata": {}}}, "kind is required"),
    ({"kind": "BGPPeer"}, "name is required"),
    ({"definition": dict(PEER, apiVersion="crd.projectcalico.org/v1")}, "apiVersion must be"),
    ({"kind": "BGPPeer", "name": "x", "namespace": "ns"}, "not a namespaced kind"),
])
def test_bad_arguments(ds, capture, args, message):
    code, res = capture(calicoctl_module, args)
    assert code == 1 and message in res["msg"]


# ---------------------------------------------------------------- calicoctl_info

def test_info_lists_owned_by_selector(ds, capture):
    foreign = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer", "metadata": {"name": "manual"},
               "spec": {"peerIP": "10.0.0.1", "asNumber": 65000}}
    other = json.loads(json.dumps(PEER))
    other["metadata"]["name"] = "tiny-unraid-peer"
    ds.seed(PEER, foreign, other)
    code, res = capture(info_module, {"kind": "BGPPeer", "selector": "hakube.io/managed-by == 'hakube'"})
    assert code == 0 and res["changed"] is False
    assert sorted(res["names"]) == ["openwrt-peer", "tiny-unraid-peer"]
    assert ds.calls()[0]["argv"] == ["get", "BGPPeer", "-o", "json", "--selector",
                                     "hakube.io/managed-by == 'hakube'"]
    code, res = capture(info_module, {"kind": "BGPPeer"})
    assert len(res["names"]) == 3


def test_info_empty_list(ds, capture):
    code, res = capture(info_module, {"kind": "BGPPeer"})
    assert code == 0 and res["resources"] == [] and res["names"] == []


def test_info_by_name(ds, capture):
    ds.seed(PEER)
    code, res = capture(info_module, {"kind": "BGPPeer", "name": "openwrt-peer"})
    assert res["names"] == ["openwrt-peer"]
    code, res = capture(info_module, {"kind": "BGPPeer", "name": "missing"})
    assert code == 0 and res["names"] == []


def test_info_unreachable(ds, capture):
    ds.env(unreachable=1)
    code, res = capture(info_module, {"kind": "BGPPeer"})
    assert code == 1 and res["reason"] == "unreachable"


def test_info_version_check(ds, capture):
    ds.env(version="v3.31.0")
    code, res = capture(info_module, {"kind": "BGPPeer", "expected_version": "3.33.1"})
    assert code == 1 and res["reason"] == "version_mismatch"
    code, res = capture(info_module, {"kind": "BGPPeer", "expected_version": "3.33.1",
                                      "allow_version_mismatch": True})
    assert code == 0 and res["calicoctl_version"] == "v3.31.0"


def test_info_all_namespaces(ds, capture):
    a = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
         "metadata": {"name": "a", "namespace": "x"}, "spec": {}}
    b = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
         "metadata": {"name": "b", "namespace": "y"}, "spec": {}}
    ds.seed(a, b)
    code, res = capture(info_module, {"kind": "NetworkSet", "all_namespaces": True})
    assert sorted(res["names"]) == ["a", "b"]
    code, res = capture(info_module, {"kind": "NetworkSet", "namespace": "x"})
    assert res["names"] == ["a"]


# ---------------------------------------------------------------- module_utils helpers

@pytest.mark.parametrize("text, items", [
    ("null", []),
    ("[]", []),
    ('{"kind": "BGPPeer", "metadata": {"name": "a"}, "spec": {}}', ["a"]),
    ('[{"kind": "BGPPeer", "metadata": {"name": "a"}}, {"kind": "BGPPeer", "metadata": {"name": "b"}}]',
     ["a", "b"]),
    ('{"kind": "BGPPeerList", "metadata": {}, "items": [{"metadata": {"name": "c"}}]}', ["c"]),
    ('{"kind": "BGPPeerList", "metadata": {}, "items": null}', []),
])
def test_split_items(text, items):
    assert [i["metadata"]["name"] for i in calico.split_items(json.loads(text))] == items


@pytest.mark.parametrize("want, have, equal", [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {}, False),
    ({"a": None}, {}, True),
    ({"a": []}, {}, True),
    ({"a": {}}, {"a": {"x": 1}}, True),
    ([1, 2], [1, 2], True),
    ([1, 2], [2, 1], False),
    ([{"cidr": "x"}], [{"cidr": "x", "d": 1}], True),
    ({"a": [1]}, {"a": "1"}, False),
    ("64512", 64512, True),
    ("True", True, True),
    (True, "false", False),
    (None, None, True),
    (None, "x", False),
    ({"a": 1}, [1], False),
])
def test_declared_equal(want, have, equal):
    assert calico.declared_equal(want, have) is equal


def test_normalize_version():
    assert calico.normalize_version("v3.33.1") == "3.33.1"
    assert calico.normalize_version("v3.33.1-0.dev-5-gabc") == "3.33.1"
    assert calico.normalize_version(None) is None


def test_declared_view_and_merge():
    assert calico.declared_view({"a": {"b": 1}}, {"a": {"b": 2, "c": 3}, "d": 4}) == {"a": {"b": 2}}
    assert calico.declared_view({"a": 1}, "x") == "x"
    assert calico.declared_view([{"a": 1}], [{"a": 2, "b": 3}, {"z": 1}]) == [{"a": 2}, {"z": 1}]
    assert calico.declared_view([1], "x") == "x"
    assert calico.deep_merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}) == {
        "a": {"b": 3, "c": 2}, "l": [2]}
    assert calico.deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "x": None}, "n": {"m": None, "k": 1}}) == {
        "a": {"c": 2}, "n": {"k": 1}}


def test_unparsable_json(ds, capture, monkeypatch):
    ds.seed(PEER)
    monkeypatch.setattr(calico.Calicoctl, "run", lambda self, args, **kw: (0, "not json", ""))
    code, res = capture(calicoctl_module, {"definition": PEER})
    assert code == 1 and "printed no JSON" in res["msg"]


def test_version_output_unreadable(ds, capture, monkeypatch):
    monkeypatch.setattr(calico.Calicoctl, "run", lambda self, args, **kw: (0, "garbage", ""))
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "3.33.1"})
    assert code == 1 and "cannot read the client version" in res["msg"]


def test_version_command_fails_without_output(ds, capture, monkeypatch):
    monkeypatch.setattr(calico.Calicoctl, "run", lambda self, args, **kw: (2, "", "boom"))
    code, res = capture(calicoctl_module, {"definition": PEER, "expected_version": "3.33.1"})
    assert code == 1 and "boom" in res["msg"]
