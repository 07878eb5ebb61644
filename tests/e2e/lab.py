"""Helpers for the end-to-end tests: talk to the lab that ``scripts/lab up`` made.

The lab is a real cluster: five systemd containers ("nodes") on the docker network
``hakube-lab``, built by ``site.yml``. Everything here goes through ``docker exec`` on
the nodes, ``ansible-playbook`` against ``inventories/lab`` or HTTPS to the VIP from
this machine (the lab's network is a bridge on this machine).
"""
import base64
import json
import os
import re
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INVENTORY = os.path.join(TOP, "inventories", "lab", "hosts.yml")
SUBNET = os.environ.get("LAB_SUBNET", "172.28.90.0/24")
BASE = SUBNET.rsplit(".", 1)[0]
VIP = BASE + ".10"
LB_PORT = 8443
CONTROL_PLANES = ["lab-cp%d" % i for i in range(1, int(os.environ.get("LAB_CONTROL_PLANES", "3")) + 1)]
WORKERS = ["lab-w%d" % i for i in range(1, int(os.environ.get("LAB_WORKERS", "2")) + 1)]
NODES = CONTROL_PLANES + WORKERS
ADMIN_CONF = "/etc/kubernetes/admin.conf"
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
                   r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)


def run(cmd, check=True, timeout=600, **kwargs):
    """subprocess.run with text output; on failure the message carries the output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(cmd), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def dexec(node, *cmd, check=True, timeout=300):
    return run(["docker", "exec", node] + list(cmd), check=check, timeout=timeout)


def kubectl(*args, node=None, check=True, timeout=120):
    """kubectl with admin.conf on a control plane (the first one that is running)."""
    node = node or running_control_plane()
    return dexec(node, "kubectl", "--kubeconfig=" + ADMIN_CONF, *args, check=check, timeout=timeout)


def kubectl_json(*args, node=None):
    return json.loads(kubectl(*args, "--output=json", node=node).stdout)


def is_running(node):
    proc = run(["docker", "inspect", "-f", "{{.State.Running}}", node], check=False)
    return proc.stdout.strip() == "true"


def running_control_plane():
    """The first control plane that runs and holds admin.conf (one that was reset does not)."""
    for node in CONTROL_PLANES:
        if is_running(node) and dexec(node, "test", "-e", ADMIN_CONF, check=False).returncode == 0:
            return node
    raise AssertionError("no control-plane node of the lab is running with %s" % ADMIN_CONF)


def node_ip(node):
    """The lab address of a node (scripts/lab: control planes .11.., workers .21..)."""
    if node in CONTROL_PLANES:
        return "%s.%d" % (BASE, 10 + CONTROL_PLANES.index(node) + 1)
    return "%s.%d" % (BASE, 20 + WORKERS.index(node) + 1)


def lab_exists():
    return all(run(["docker", "container", "inspect", n], check=False).returncode == 0 for n in NODES)


def playbook(*args, env=None, timeout=3600, path="site.yml"):
    """Run site.yml (or ``path``) against the lab; return (process, {host: recap counts})."""
    cmd = [os.path.join(TOP, ".venv", "bin", "ansible-playbook"), os.path.join(TOP, path),
           "-i", INVENTORY] + list(args)
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    PATH=os.path.join(TOP, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""))
    full_env.update(env or {})
    proc = run(cmd, check=False, timeout=timeout, env=full_env, cwd=TOP)
    return proc, recap(proc.stdout)


def recap(output):
    return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP.finditer(output)}


def start_playbook(*args, log_path):
    """Start site.yml in its own process group, output to log_path; return the Popen."""
    cmd = [os.path.join(TOP, ".venv", "bin", "ansible-playbook"), os.path.join(TOP, "site.yml"),
           "-i", INVENTORY] + list(args)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=os.path.join(TOP, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""))
    log = open(log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=TOP,
                            start_new_session=True)


def kill_group(proc):
    """SIGKILL the whole process group of a start_playbook process (a killed operator)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def ssl_context():
    """TLS context that trusts the cluster CA from admin.conf (read on a control plane)."""
    conf = yaml.safe_load(dexec(running_control_plane(), "cat", ADMIN_CONF).stdout)
    ca_pem = base64.b64decode(conf["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as handle:
        handle.write(ca_pem)
    ctx = ssl.create_default_context(cafile=handle.name)
    os.unlink(handle.name)
    return ctx


def vip_ready(ctx, timeout=1.0):
    """True when GET https://VIP:8443/readyz answers 200 with a certificate for the VIP."""
    try:
        with urllib.request.urlopen("https://%s:%d/readyz" % (VIP, LB_PORT), context=ctx,
                                    timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def vip_holders():
    """Control planes that carry the VIP on an interface right now."""
    holders = []
    for node in CONTROL_PLANES:
        if not is_running(node):
            continue
        out = dexec(node, "ip", "-4", "-o", "addr", "show", check=False).stdout
        if re.search(r"\binet %s/" % re.escape(VIP), out):
            holders.append(node)
    return holders


def single_vip_holder():
    """[the holder] when exactly one control plane carries the VIP, else None (for wait_for)."""
    holders = vip_holders()
    return holders if len(holders) == 1 else None


def watch_vip(ctx, seconds, interval=0.2):
    """Poll the VIP for ``seconds``; return (longest outage in s, answered at the end)."""
    end = time.monotonic() + seconds
    longest = 0.0
    down_since = None
    ok = False
    while time.monotonic() < end:
        t = time.monotonic()
        ok = vip_ready(ctx)
        if ok:
            if down_since is not None:
                longest = max(longest, t - down_since)
                down_since = None
        elif down_since is None:
            down_since = t
        time.sleep(max(0.0, interval - (time.monotonic() - t)))
    if down_since is not None:
        longest = max(longest, time.monotonic() - down_since)
    return longest, ok


def wait_for(predicate, timeout, interval=2.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))


def nodes_ready():
    """{node name: Ready?} from the API."""
    out = {}
    for item in kubectl_json("get", "nodes")["items"]:
        cond = [c for c in item["status"].get("conditions", []) if c["type"] == "Ready"]
        out[item["metadata"]["name"]] = bool(cond) and cond[0]["status"] == "True"
    return out


def etcd_members():
    """etcd's member list, read with etcdctl inside a running etcd static pod."""
    node = running_control_plane()
    cmd = ["-n", "kube-system", "exec", "etcd-" + node, "--", "etcdctl",
           "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
           "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
           "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key"]
    members = json.loads(kubectl(*cmd, "member", "list", "--write-out=json", node=node).stdout)
    health = kubectl(*cmd, "endpoint", "health", "--cluster", "--write-out=json", node=node,
                     check=False)
    return members.get("members", []), health


def etcd_member_names():
    """The sorted names in etcd's member list ('' for a member that never started)."""
    return sorted(m.get("name", "") for m in etcd_members()[0])


def record(name, value):
    """Append a measured figure to bench/results/e2e.jsonl (machine and date beside it)."""
    path = os.path.join(TOP, "bench", "results", "e2e.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"name": name, "value": value, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                 "machine": "%d cores, %s" % (os.cpu_count(), os.uname().release)}) + "\n")
