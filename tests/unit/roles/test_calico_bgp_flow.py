"""Run the BGP part of roles/calico for real, against stand-ins for calicoctl and the API.

ansible-playbook runs playbooks/calico.yml on localhost (connection local) from the task
"Apply the default BGPConfiguration" on, with the sample inventory's settings,
tests/unit/plugins/modules/fakes/calicoctl as calicoctl and, for the kubernetes.core
tasks (node labels), the small API server of fakes/fake_kube_apiserver.py. It checks
that the seed 004 BGPConfiguration and peers are created, that a second run changes
nothing, that an owned peer no longer in the inventory is deleted and that a peer
without the ownership label is left alone; and that a route reflector taken out of
calico_route_reflectors loses its label and cluster ID while the other reflector and a
reflector the role never configured stay as they are.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FAKES = os.path.join(TOP, "tests", "unit", "plugins", "modules", "fakes")
FAKE = os.path.join(FAKES, "calicoctl")
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

sys.path.insert(0, FAKES)
from fake_kube_apiserver import FakeKubeAPIServer  # noqa: E402  pylint: disable=wrong-import-position

CP1, CP2, CP3 = ("k8s-calico-master-10-31-90-%d" % i for i in (1, 2, 3))
OWNED_RR = {"route-reflector": "true", "hakube.io/managed-by": "hakube"}

pytestmark = pytest.mark.slow


def _peer(name, labels=None):
    meta = {"name": name, "uid": "u-" + name, "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer", "metadata": meta,
            "spec": {"peerIP": "10.0.0.9", "asNumber": 65000}}


def _calico_node(name, cluster_id=None):
    bgp = {"ipv4Address": "10.31.90.%s/16" % name.rsplit("-", 1)[-1]}
    if cluster_id:
        bgp["routeReflectorClusterID"] = cluster_id
    return {"apiVersion": "projectcalico.org/v3", "kind": "Node",
            "metadata": {"name": name, "uid": "u-" + name, "resourceVersion": "1",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"bgp": bgp}}


@pytest.fixture
def api():
    """The API server the kubernetes.core tasks talk to: the three control planes and
    a node that an operator made a reflector by hand (label and cluster ID, no owner
    label)."""
    server = FakeKubeAPIServer([
        {"metadata": {"name": CP1, "labels": {"kubernetes.io/hostname": CP1}}},
        {"metadata": {"name": CP2, "labels": {"kubernetes.io/hostname": CP2}}},
        {"metadata": {"name": CP3, "labels": {"kubernetes.io/hostname": CP3}}},
        {"metadata": {"name": "manual-rr", "labels": {"route-reflector": "true"}}},
    ])
    yield server
    server.stop()


@pytest.fixture
def workdir(tmp_path, api):
    calicoctl = tmp_path / "calicoctl"
    shutil.copy(FAKE, calicoctl)
    os.chmod(calicoctl, 0o755)
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    kube_control_plane:\n      hosts:\n"
        "        %s:\n          ansible_connection: local\n"
        "          ansible_python_interpreter: %s\n"
        "    kube_node:\n      hosts:\n        %s:\n        %s:\n" % (CP1, sys.executable, CP2, CP3))
    (tmp_path / "state.json").write_text(json.dumps({"rv": 10, "objects": [
        _peer("manual-peer"), _peer("old-peer", {"hakube.io/managed-by": "hakube"}),
        _calico_node(CP1), _calico_node(CP2), _calico_node(CP3),
        _calico_node("manual-rr", "10.0.0.1")]}))
    api.kubeconfig(str(tmp_path / "admin.conf"))
    return tmp_path


def _play(workdir, *extra):
    env = dict(os.environ, FAKE_CALICOCTL_STATE=str(workdir / "state.json"),
               ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_FACT_CACHING="memory",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("FAKE_CALICOCTL_LOG", None)
    sample = os.path.join(TOP, "inventories", "sample", "group_vars", "all")
    cmd = [PLAYBOOK_BIN, "-i", str(workdir / "hosts.yml"), os.path.join(TOP, "playbooks", "calico.yml"),
           "--start-at-task", "Apply the default BGPConfiguration",
           "-e", "@" + os.path.join(sample, "hakube.yml"), "-e", "@" + os.path.join(sample, "calico.yml"),
           "-e", "inventory_dir=" + str(workdir),
           "-e", "calico_calicoctl_path=" + str(workdir / "calicoctl"),
           "-e", "calico_kubeconfig=" + str(workdir / "admin.conf")] + list(extra)
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = re.search(r"changed=(\d+)", proc.stdout.split("PLAY RECAP")[-1])
    return int(recap.group(1)), proc.stdout


def _objects(workdir):
    return {(o["kind"], o["metadata"]["name"]): o
            for o in json.loads((workdir / "state.json").read_text())["objects"]}


def test_bgp_configuration_and_peers_converge(workdir):
    changed, out = _play(workdir)
    assert changed == 3, out
    objects = _objects(workdir)
    assert {k for k in objects if k[0] != "Node"} == {
        ("BGPPeer", "manual-peer"), ("BGPConfiguration", "default"),
        ("BGPPeer", "openwrt-peer"), ("BGPPeer", "tiny-unraid-peer")}
    cfg = objects[("BGPConfiguration", "default")]["spec"]
    assert cfg["asNumber"] == 64517 and cfg["nodeToNodeMeshEnabled"] is False
    assert cfg["communities"] == [{"name": "bgp-large-community", "value": "64517:300:100"}]
    peer = objects[("BGPPeer", "openwrt-peer")]
    assert peer["spec"] == {"peerIP": "10.31.254.253", "keepOriginalNextHop": True, "asNumber": 64512}
    assert peer["metadata"]["labels"] == {"hakube.io/managed-by": "hakube"}

    changed, out = _play(workdir)
    assert changed == 0, out

    changed, out = _play(workdir, "-e", json.dumps({"calico_bgp_peers": [
        {"name": "openwrt-peer", "peerIP": "10.31.254.253", "keepOriginalNextHop": True, "asNumber": 64512}]}))
    assert changed == 1, out
    assert ("BGPPeer", "tiny-unraid-peer") not in _objects(workdir)
    assert ("BGPPeer", "manual-peer") in _objects(workdir)


def test_check_mode_changes_nothing(workdir):
    before = (workdir / "state.json").read_text()
    changed, out = _play(workdir, "--check", "--diff")
    assert changed == 3, out
    assert (workdir / "state.json").read_text() == before


def _cluster_id(workdir, name):
    return _objects(workdir)[("Node", name)]["spec"]["bgp"].get("routeReflectorClusterID")


def test_route_reflector_removed_from_the_list_is_unconfigured(workdir, api):
    two = json.dumps({"calico_route_reflectors": [CP1, CP2]})
    changed, out = _play(workdir, "-e", two)
    assert changed == 5, out
    for name in (CP1, CP2):
        assert api.labels(name) == dict(OWNED_RR, **{"kubernetes.io/hostname": name})
        assert _cluster_id(workdir, name) == "244.0.0.1"
    assert ("BGPPeer", "hakube-peer-with-route-reflectors") in _objects(workdir)
    changed, out = _play(workdir, "-e", two)
    assert changed == 0, out

    one = json.dumps({"calico_route_reflectors": [CP1]})
    before_state, before_patches = (workdir / "state.json").read_text(), len(api.patches)
    changed, out = _play(workdir, "-e", one, "--check", "--diff")
    assert changed == 2, out
    assert (workdir / "state.json").read_text() == before_state
    assert len(api.patches) == before_patches and "route-reflector" in api.labels(CP2)

    changed, out = _play(workdir, "-e", one)
    assert changed == 2, out
    assert api.labels(CP2) == {"kubernetes.io/hostname": CP2}
    assert _objects(workdir)[("Node", CP2)]["spec"] == {"bgp": {"ipv4Address": "10.31.90.2/16"}}
    assert api.labels(CP1) == dict(OWNED_RR, **{"kubernetes.io/hostname": CP1})
    assert _cluster_id(workdir, CP1) == "244.0.0.1"
    # never configured by the role: neither the hand-made reflector nor CP3
    assert api.labels("manual-rr") == {"route-reflector": "true"}
    assert _cluster_id(workdir, "manual-rr") == "10.0.0.1"
    assert api.labels(CP3) == {"kubernetes.io/hostname": CP3} and _cluster_id(workdir, CP3) is None
    assert not [p for p in api.patches if p["name"] in ("manual-rr", CP3)]

    changed, out = _play(workdir, "-e", one)
    assert changed == 0, out

    # the last reflector goes too: its peer BGPPeer is deleted as an owned peer
    changed, out = _play(workdir, "-e", json.dumps({"calico_route_reflectors": []}))
    assert changed == 3, out
    assert "route-reflector" not in api.labels(CP1) and _cluster_id(workdir, CP1) is None
    assert ("BGPPeer", "hakube-peer-with-route-reflectors") not in _objects(workdir)
    assert api.labels("manual-rr") == {"route-reflector": "true"}
