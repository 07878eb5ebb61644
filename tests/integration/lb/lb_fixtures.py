"""Fixtures (imported by name) for the real keepalived/haproxy failover test (tests/integration/test_lb_failover.py).

Three systemd containers (hakube/lb-test:bookworm: the hakube/node image plus Debian's
keepalived and haproxy) on a docker network of their own. The role runs against them
through playbooks/lb.yml with the community.docker.docker connection, then the test
starts, in every container, exactly the command lines of the static pod manifests the
role wrote, plus a stand-in kube-apiserver. Everything is removed at the end, also on
failure. Traffic goes only to these containers' addresses.
"""
import ipaddress
import os
import subprocess
import sys
import time
import uuid

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
IMAGE = "hakube/lb-test:bookworm"
# Candidate subnets for the test network; the first one docker accepts is used.
SUBNETS = ["172.30.147.0/24", "172.30.148.0/24", "172.30.149.0/24", "172.30.150.0/24"]
NODES = 3


def lb_run(args, timeout=120, check=True, **kw):
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and res.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(args), res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
    return res


def lb_capabilities():
    with open(os.path.join(TOP, "tests", "images", "capabilities")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


class LbCluster:
    """The containers, the VIP and helpers to act on them."""

    def __init__(self, prefix, subnet):
        net = ipaddress.ip_network(subnet)
        self.prefix = prefix
        self.network = prefix + "-net"
        self.subnet = subnet
        self.vip = str(net.network_address + 100)
        self.nodes = ["%s-cp%d" % (prefix, i) for i in range(1, NODES + 1)]
        self.ips = {n: str(net.network_address + 10 + i) for i, n in enumerate(self.nodes, start=1)}
        self.manifests = {}

    def exec(self, node, *cmd, timeout=60, check=True):
        return lb_run(["docker", "exec", node] + list(cmd), timeout=timeout, check=check)

    def refresh_pids(self):
        self.pids = {node: lb_run(["docker", "inspect", "-f", "{{.State.Pid}}", node]).stdout.strip() for node in self.nodes}

    def holders(self):
        """Nodes whose network namespace holds the VIP, read in one pass from the host."""
        script = "; ".join(
            "echo @%s; nsenter -t %s -n ip -4 -o addr show 2>/dev/null" % (node, pid)
            for node, pid in self.pids.items() if pid not in ("", "0")
        )
        out = lb_run(["sh", "-c", script], timeout=10).stdout
        holders, current = [], None
        for line in out.splitlines():
            if line.startswith("@"):
                current = line[1:]
            elif " inet %s/" % self.vip in line:
                holders.append(current)
        return holders

    # --- the processes of the static pods, started with the manifests' command lines
    def start_unit(self, node, unit, command):
        self.exec(node, "systemctl", "reset-failed", unit, check=False)
        self.exec(node, "systemd-run", "--unit=" + unit, "--collect", "--property=KillMode=mixed", *command)

    def start_standin(self, node):
        self.exec(node, "rm", "-f", "/run/standin-fail")
        self.start_unit(node, "standin-apiserver", ["/usr/bin/python3", "/usr/local/bin/standin_apiserver.py"])

    def start_haproxy(self, node):
        # The pod mounts the stats socket's directory (hostPath DirectoryOrCreate).
        self.exec(node, "mkdir", "-p", "/run/apiserver-lb")
        self.start_unit(node, "lb-haproxy", self.manifests[node]["haproxy"])

    def start_keepalived(self, node):
        self.start_unit(node, "lb-keepalived", self.manifests[node]["keepalived"])

    def start_all(self, node):
        self.start_standin(node)
        self.start_haproxy(node)
        self.start_keepalived(node)

    def stop_unit(self, node, unit):
        self.exec(node, "systemctl", "stop", unit, check=False)


def lb_wait_systemd(cluster, node, timeout=60):
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = cluster.exec(node, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise AssertionError("%s: systemd did not come up (%s)" % (node, state))


def _ansible_env(tmp):
    cfg = os.path.join(tmp, "ansible.cfg")
    with open(cfg, "w") as f:
        f.write("[defaults]\nforks = 5\nhost_key_checking = False\n")
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=cfg,
        ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".collections"),
        ANSIBLE_NOCOLOR="1",
        PATH=BIN + os.pathsep + env.get("PATH", ""),
    )
    return env


def lb_write_inventory(cluster, tmp, **extra):
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
                "hakube_apiserver_lb_mode": "keepalived_haproxy",
                "hakube_apiserver_vip": cluster.vip,
                "hakube_apiserver_lb_port": 8443,
                "hakube_apiserver_port": 6443,
                "hakube_node_cidr": cluster.subnet,
                "hakube_credentials_dir": os.path.join(tmp, "credentials"),
            },
            "children": {
                "kube_control_plane": {"hosts": {n: {"hakube_node_ip": cluster.ips[n]} for n in cluster.nodes}},
                "kube_node": {"hosts": {}},
                "k8s_cluster": {"children": {"kube_control_plane": {}, "kube_node": {}}},
            },
        }
    }
    inventory["all"]["vars"].update(extra)
    path = os.path.join(tmp, "inventory.yml")
    with open(path, "w") as f:
        yaml.safe_dump(inventory, f)
    return path


def lb_run_playbook(cluster, tmp, **extra):
    inventory = lb_write_inventory(cluster, tmp, **extra)
    return lb_run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, os.path.join(TOP, "playbooks", "lb.yml"), "--tags", "lb"],
                  timeout=600, env=_ansible_env(tmp), cwd=tmp)


@pytest.fixture(scope="session")
def lb_image():
    lb_run([os.path.join(TOP, "scripts", "docker-engine")], timeout=300)
    lb_run([os.path.join(TOP, "tests", "images", "build"), "bookworm"], timeout=1200)
    lb_run(["docker", "build", "-q", "-t", IMAGE, HERE], timeout=1200)
    return IMAGE


@pytest.fixture(scope="module")
def lb_cluster(lb_image, tmp_path_factory):
    prefix = "hakube-lbtest-" + uuid.uuid4().hex[:6]
    cluster = None
    created = []
    try:
        for subnet in SUBNETS:
            res = lb_run(["docker", "network", "create", "--subnet", subnet, prefix + "-net"], check=False)
            if res.returncode == 0:
                cluster = LbCluster(prefix, subnet)
                break
        assert cluster is not None, "no free subnet among %s" % SUBNETS
        caps = [a for c in lb_capabilities() for a in ("--cap-add", c)]
        for node in cluster.nodes:
            lb_run(["docker", "run", "-d", "--name", node, "--hostname", node, "--network", cluster.network,
                    "--ip", cluster.ips[node], *caps, "--security-opt", "seccomp=unconfined",
                    "--security-opt", "apparmor=unconfined", "--cgroupns", "host",
                    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/tmp", lb_image])
            created.append(node)
        for node in cluster.nodes:
            lb_wait_systemd(cluster, node)
            lb_run(["docker", "cp", os.path.join(HERE, "standin_apiserver.py"), node + ":/usr/local/bin/standin_apiserver.py"])
        cluster.refresh_pids()
        tmp = str(tmp_path_factory.mktemp("lb"))
        cluster.tmp = tmp
        cluster.first_run = lb_run_playbook(cluster, tmp)
        cluster.second_run = lb_run_playbook(cluster, tmp)
        for node in cluster.nodes:
            cluster.manifests[node] = {}
            for name in ("keepalived", "haproxy"):
                doc = yaml.safe_load(cluster.exec(node, "cat", "/etc/kubernetes/manifests/%s.yaml" % name).stdout)
                cluster.manifests[node][name] = doc["spec"]["containers"][0]["command"]
        for node in cluster.nodes:
            cluster.start_standin(node)
            cluster.start_haproxy(node)
        for node in cluster.nodes:
            cluster.start_keepalived(node)
        yield cluster
    finally:
        for node in created:
            lb_run(["docker", "rm", "-f", node], check=False)
        lb_run(["docker", "network", "rm", prefix + "-net"], check=False)
