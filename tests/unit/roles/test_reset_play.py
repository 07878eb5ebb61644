"""playbooks/reset.yml on every host of a cluster, in check mode, on this machine.

With every control plane in the run there is none left to drain from (not even for the
workers, whose play comes first), and the role skips the tasks that need one. ansible-core templates ``delegate_to`` before ``when``,
so a task that delegates to an empty host name fails although it would be skipped
("Empty hostname produced from delegate_to"): the whole-cluster reset failed that way
on the lab (tests/e2e/test_70_rebuild.py). Every host here is this machine
(ansible_connection=local), and check mode keeps the real kubeadm_reset from changing
anything; it only reads (/etc/kubernetes, iptables-save, ip addr).
"""
import os
import re
import subprocess
import sys

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def test_reset_of_every_host_runs_without_a_control_plane_that_stays(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("kubeadm_reset reads iptables, which needs root")
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "hakube_container_runtime": "containerd", "hakube_apiserver_lb_mode": "keepalived_haproxy",
                 "hakube_apiserver_vip": "192.0.2.100"},
        "children": {
            "kube_control_plane": {"hosts": {"cp1": None, "cp2": None}},
            # The workers' play runs first; cp1 is reset after it, in the same run, so
            # it must not drain w1 either (the second whole-cluster reset on the lab
            # failed that way: cp1 had no admin.conf any more).
            "kube_node": {"hosts": {"w1": None}},
            "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
        }}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(path),
                           os.path.join(TOP, "reset.yml"), "--check", "-e", "reset_confirm=true"],
                          cwd=TOP, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    recap = {m.group(1): int(m.group(5)) for m in RECAP.finditer(out)}
    assert recap == {"cp1": 0, "cp2": 0, "w1": 0}, out
    assert "Empty hostname" not in out
    # nothing was asked of a control plane: none stays
    assert "Look for this host's Node" in out and "-> cp" not in out, out
