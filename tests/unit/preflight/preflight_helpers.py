"""Run preflight phase 1 (playbooks/preflight_inventory.yml) against small inventories.

Each run uses the venv's ansible-playbook with the checkout's ansible.cfg and the json
stdout callback; the helpers return the parsed result. The hosts have addresses that
are never contacted: phase 1 only runs action plugins on localhost.
"""
import copy
import json
import os
import subprocess
import sys

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = os.path.join(TOP, "playbooks", "preflight_inventory.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

# The cluster-wide settings of inventories/sample/group_vars/all/hakube.yml (seed 004).
SAMPLE_VARS = {
    "hakube_kubernetes_version": "1.36.3",
    "hakube_image_repository": "registry.aliyuncs.com/google_containers",
    "hakube_dns_domain": "cali-cluster.tclocal",
    "hakube_host_domain": "tinychen.io",
    "hakube_node_cidr": "10.31.0.0/16",
    "hakube_pod_cidr": "10.33.0.0/17",
    "hakube_service_cidr": "10.33.128.0/18",
    "hakube_loadbalancer_cidr": "10.33.192.0/18",
    "hakube_apiserver_lb_mode": "keepalived_haproxy",
    "hakube_apiserver_vip": "10.31.90.0",
    "hakube_apiserver_vip_hostname": "k8s-calico-apiserver.tinychen.io",
    "hakube_apiserver_lb_port": 8443,
    "hakube_apiserver_port": 6443,
    "hakube_container_runtime": "containerd",
    "hakube_kube_proxy_mode": "ipvs",
}

MASTERS = ["k8s-calico-master-10-31-90-%d" % i for i in (1, 2, 3)]
WORKERS = ["k8s-calico-worker-10-31-90-%d" % i for i in (4, 5, 6)]


def make_inventory(masters=None, workers=None, cluster_vars=None, all_vars=None, host_vars=None):
    """Seed 004's topology as an inventory dict; settings go to k8s_cluster's vars.

    masters/workers: lists of names or {name: hostvars}; a name ending in -10-31-90-N
    gets ansible_host 10.31.90.N.
    """
    def hosts(spec):
        out = {}
        items = spec.items() if isinstance(spec, dict) else [(n, None) for n in spec]
        for name, hv in items:
            if hv is None:
                hv = {}
                tail = name.rsplit("-", 1)[-1]
                if tail.isdigit():
                    hv["ansible_host"] = "10.31.90.%s" % tail
            out[name] = hv
        return out

    cp = hosts(MASTERS if masters is None else masters)
    wk = hosts(WORKERS if workers is None else workers)
    for name, hv in (host_vars or {}).items():
        (cp if name in cp else wk).setdefault(name, {}).update(hv)
    cvars = copy.deepcopy(SAMPLE_VARS)
    cvars.update(cluster_vars or {})
    inv = {
        "all": {
            "children": {
                "kube_control_plane": {"hosts": cp},
                "kube_node": {"hosts": wk},
                "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}, "vars": cvars},
            }
        }
    }
    if all_vars:
        inv["all"]["vars"] = all_vars
    return inv


class Result(object):
    def __init__(self, proc, data):
        self.proc = proc
        self.rc = proc.returncode
        self.data = data
        self.stats = data.get("stats", {}) if data else {}

    def task_results(self):
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task.get("hosts", {}).items():
                    yield task["task"]["name"], host, res

    @property
    def failure(self):
        for _name, _host, res in self.task_results():
            if res.get("failed"):
                return res.get("msg", "")
        return None

    @property
    def errors(self):
        """The problem lines of the final failure message, without their '- '."""
        msg = self.failure or ""
        return [line[2:] for line in msg.split("\n") if line.startswith("- ")]

    @property
    def warnings_shown(self):
        for name, _host, res in self.task_results():
            if name.endswith("Show the warnings") and not res.get("skipped"):
                return [line[2:] for line in res.get("msg", "").split("\n") if line.startswith("- ")]
        return []


def _parse(stdout):
    lines = stdout.splitlines(True)
    offset = 0
    for line in lines:
        if line.rstrip("\n") == "{":
            return json.JSONDecoder().raw_decode(stdout[offset:])[0]
        offset += len(line)
    return None


@pytest.fixture
def run_phase1(tmp_path):
    def _run(inventory, extra_args=()):
        inv = tmp_path / "hosts.yml"
        inv.write_text(yaml.safe_dump(inventory, sort_keys=False))
        env = dict(os.environ)
        env.update({
            "ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp"),
        })
        cmd = [ANSIBLE_PLAYBOOK, PLAYBOOK, "--tags", "preflight", "-i", str(inv)] + list(extra_args)
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
        data = _parse(proc.stdout)
        assert data is not None, "no JSON result from ansible-playbook:\n%s\n%s" % (proc.stdout, proc.stderr)
        result = Result(proc, data)
        # phase 1 must never touch a host: only localhost appears, nothing changed,
        # nothing unreachable
        assert set(result.stats) == {"localhost"}, result.stats
        assert result.stats["localhost"]["changed"] == 0
        assert result.stats["localhost"]["unreachable"] == 0
        assert "UNREACHABLE" not in proc.stdout
        return result
    return _run
