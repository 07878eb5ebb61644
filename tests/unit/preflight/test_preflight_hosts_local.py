"""Preflight phase 2 against this machine (connection local, read only).

One control plane (localcp) and one worker (localworker), both this machine, lb mode
none, so their MAC addresses (and product_uuid) are the same. A port the cluster needs (10250) is
held by a Python listener of this test, which phase 2 must name; the memory minimum
is set above this machine's memory; ipvs is asked for, and the expected verdict is
computed from this kernel.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from preflight_helpers import ANSIBLE_PLAYBOOK, TOP, _parse


def _node_ip():
    out = subprocess.run(["ip", "-4", "-o", "route", "get", "192.0.2.1"], capture_output=True, text=True, check=False)
    fields = out.stdout.split()
    return fields[fields.index("src") + 1] if "src" in fields else None


def _ipvs_present():
    if os.path.exists("/proc/net/ip_vs"):
        return True
    try:
        with open("/proc/modules") as handle:
            if any(line.startswith("ip_vs ") for line in handle):
                return True
    except OSError:
        pass
    release = os.uname().release
    for name in ("modules.builtin", "modules.dep"):
        try:
            with open("/lib/modules/%s/%s" % (release, name)) as handle:
                if "/ip_vs.ko" in handle.read():
                    return True
        except OSError:
            pass
    return False


def _product_uuid():
    try:
        with open("/sys/class/dmi/id/product_uuid") as handle:
            value = handle.read().strip()
    except OSError:
        return ""
    return "" if value.lower() in ("", "na", "not settable", "not specified") else value


@pytest.mark.skipif(not os.path.exists("/usr/bin/ss") and not os.path.exists("/bin/ss"), reason="needs ss (iproute2)")
def test_phase2_on_this_machine(tmp_path):
    ip = _node_ip()
    if not ip:
        pytest.skip("no IPv4 route on this machine")
    listener = subprocess.Popen([sys.executable, "-c", (
        "import socket, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', 10250)); s.listen(1); print('ready', flush=True); time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        if listener.stdout.readline().strip() != "ready":
            pytest.skip("port 10250 is busy on this machine")
        inv = {"all": {"children": {
            "kube_control_plane": {"hosts": {"localcp": {
                "ansible_connection": "local", "ansible_host": ip, "ansible_become": False,
                "ansible_python_interpreter": sys.executable}}},
            "kube_node": {"hosts": {"localworker": {
                "ansible_connection": "local", "ansible_host": ip, "ansible_become": False,
                "ansible_python_interpreter": sys.executable}}},
            "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}, "vars": {
                "hakube_kubernetes_version": "1.36.3",
                "hakube_node_cidr": "%s/32" % ip,
                "hakube_pod_cidr": "10.233.0.0/17",
                "hakube_service_cidr": "10.233.128.0/18",
                "hakube_loadbalancer_cidr": "10.233.192.0/18",
                "hakube_apiserver_lb_mode": "none",
                "hakube_kube_proxy_mode": "ipvs",
                "calico_bgp_enabled": False,
                "preflight_skip_checks": ["unique_ips"],
                "preflight_supported_os": {"Plan9": ["4"]},
                "preflight_min_memory_mb": 99999999,
            }}}}}
        path = tmp_path / "hosts.yml"
        path.write_text(yaml.safe_dump(inv))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"))
        proc = subprocess.run([ANSIBLE_PLAYBOOK, os.path.join(TOP, "playbooks", "preflight.yml"), "-i", str(path)],
                              cwd=TOP, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        listener.kill()
        listener.wait()
    data = _parse(proc.stdout)
    assert data is not None, proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert all(s["changed"] == 0 for s in data["stats"].values()), data["stats"]
    msg = None
    for play in data["plays"]:
        for task in play["tasks"]:
            res = task["hosts"].get("localcp", {})
            if res.get("failed"):
                msg = res["msg"]
    assert msg is not None, json.dumps(data["stats"])
    lines = [line[2:] for line in msg.split("\n") if line.startswith("- ")]
    assert "[ports] host localcp: port 10250, needed by the kubelet, is already taken by python3 (pid %d) on 127.0.0.1: stop it" % listener.pid in lines \
        or any(line.startswith("[ports] host localcp: port 10250, needed by the kubelet, is already taken by python") for line in lines), lines
    assert any(line.startswith("[resources] host localcp: ") and line.endswith(
        "MB of memory, a control plane needs at least 99999999 MB (preflight_min_memory_mb)") for line in lines), lines
    assert any(line.startswith("[os] host localcp: ") and line.endswith(" is not supported; hakube supports Plan9 4")
               for line in lines), lines
    # both hosts are this machine: the same MAC (and product_uuid where DMI has one)
    assert any(line.startswith("[unique_mac] hosts localcp, localworker have the same MAC address ") for line in lines), lines
    uuid = _product_uuid()
    if uuid:
        assert ("[unique_product_uuid] hosts localcp, localworker have the same product_uuid %s "
                "(/sys/class/dmi/id/product_uuid): give each (virtual) machine its own, e.g. do not clone VMs "
                "without resetting it; containers share the host's, skip with preflight_skip_checks: "
                "[unique_product_uuid]" % uuid.lower()) in lines
    assert any(line.startswith("[ports] host localworker: port 10250, needed by the kubelet") for line in lines), lines
    ipvs_lines = [line for line in lines if line.startswith("[ipvs] ")]
    if _ipvs_present():
        assert ipvs_lines == []
    else:
        assert len(ipvs_lines) == 2 and all("has no IP_VS" in line for line in ipvs_lines)
    assert msg.startswith("hakube preflight (hosts) found %d problem(s)" % len(lines))
