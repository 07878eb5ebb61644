"""Run the BGP part of roles/calico for real, against the stand-in calicoctl.

ansible-playbook runs playbooks/calico.yml on localhost (connection local) from the task
"Apply the default BGPConfiguration" on, with the sample inventory's settings and
tests/unit/plugins/modules/fakes/calicoctl as calicoctl. It checks that the seed 004
BGPConfiguration and peers are created, that a second run changes nothing, that an
owned peer no longer in the inventory is deleted and that a peer without the ownership
label is left alone.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FAKE = os.path.join(TOP, "tests", "unit", "plugins", "modules", "fakes", "calicoctl")
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

pytestmark = pytest.mark.slow


def _peer(name, labels=None):
    meta = {"name": name, "uid": "u-" + name, "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer", "metadata": meta,
            "spec": {"peerIP": "10.0.0.9", "asNumber": 65000}}


@pytest.fixture
def workdir(tmp_path):
    calicoctl = tmp_path / "calicoctl"
    shutil.copy(FAKE, calicoctl)
    os.chmod(calicoctl, 0o755)
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    kube_control_plane:\n      hosts:\n"
        "        k8s-calico-master-10-31-90-1:\n          ansible_connection: local\n"
        "          ansible_python_interpreter: %s\n" % sys.executable)
    (tmp_path / "state.json").write_text(json.dumps({"rv": 10, "objects": [
        _peer("manual-peer"), _peer("old-peer", {"hakube.io/managed-by": "hakube"})]}))
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
           "-e", "calico_calicoctl_path=" + str(workdir / "calicoctl")] + list(extra)
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
    assert set(objects) == {("BGPPeer", "manual-peer"), ("BGPConfiguration", "default"),
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
