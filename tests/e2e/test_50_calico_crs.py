"""The calico role's BGP resources, applied through hakube.cluster.calicoctl against the
lab's real apiserver (issue 7: "Calico BGPConfiguration and BGPPeers exist as declared").

Calico, calicoctl and the Tigera operator cannot be built on this machine (the Go
module proxy refuses tigera/operator and github.com/projectcalico/api; the one Calico
monorepo pseudo-version it serves, a release-v3.28 commit, needs that api module to
build anything: docs/bundle.md), so the lab runs the plain bridge CNI. This module therefore sets up the part of a Calico datastore the role
writes to, for real, and runs the role's BGP tasks against it:

1. The projectcalico.org/v3 CRDs of BGPConfiguration and BGPPeer (group
   projectcalico.org, version v3, cluster-scoped), built from the openAPIV3Schema in
   tests/fixtures/crds/ (BGPConfiguration verbatim with its CEL rules; BGPPeer without
   descriptions and CEL rules, see the README there). The names, scope and list kinds
   are those of ``api/config/crd/projectcalico.org_bgppeers.yaml`` in
   projectcalico/calico (the generated v3 CRD; ``api/config/crd/embed.go`` there: "serves
   the generated projectcalico.org v3 CRDs to the components that install them").
   This is Calico's "native v3 CRDs" datastore layout. Calico's documentation, "Enable
   native v3 CRDs" (https://docs.tigera.io/calico/latest/operations/native-v3-crds, a
   3.32 page, marked *tech preview*): "Calico resources use the projectcalico.org/v3 API
   group and are registered as native Kubernetes CRDs" instead of the aggregation API
   server storing them as crd.projectcalico.org/v1, and "Calico auto-detects the mode
   at startup based on which CRDs are installed on the cluster"; the 3.33 upgrade page
   (https://docs.tigera.io/calico/latest/maintenance/kubernetes-upgrade): "The operator
   selects the mode from the CRDs present". The search tool found no source that dates
   the feature to 3.30 (the 3.30 claim of the brief stays unconfirmed); the earliest
   documentation it returned is the 3.32 page. What native mode adds on top of the
   CRDs (a webhooks pod and MutatingAdmissionPolicies for defaulting) is not installed.
2. tests/e2e/calico/calicoctl, a stand-in for calicoctl that turns every call into
   kubectl against that apiserver (its docstring says what it models), copied to
   /usr/local/bin/calicoctl on the control plane that runs the tasks. The role's
   kubernetes.core task (listing route reflector Nodes) needs the Python Kubernetes
   client, which tasks/tools.yml would install as python3-kubernetes; no package
   repository is reachable from the nodes, so the client and its dependencies are
   copied from this checkout's venv to a directory on the node and put on PYTHONPATH
   for the play.
3. tests/e2e/calico/bgp.yml runs the role's checks.yml and bgp.yml (not operator.yml,
   which waits for TigeraStatus) with ansible-playbook on inventories/lab, with the
   sample inventory's calico.yml and tests/e2e/calico/vars.yml.

Route reflectors stay out: their tasks write Calico Node objects, which in Calico's
Kubernetes datastore are annotations on Kubernetes Nodes (there is no v3 Node CRD in
api/config/crd), and there is no calico-node here to make them mean anything.
calico_route_reflectors is empty, so those tasks are skipped; the one that always runs
(kubernetes.core.k8s_info of the owned reflector Nodes) runs against the real API.

Everything installed (CRDs, hence every CR; the stand-in; the Python client) is removed
by the module fixture's finalizer. Other tests may kill or reset control planes while
this runs: the node that runs the tasks is chosen again for every run (a running one
with admin.conf whose apiserver answers), and a run that fails on a connection error is
repeated.
"""
import copy
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

import lab

ORDER = 50

HERE = os.path.dirname(os.path.abspath(__file__))
CALICO_DIR = os.path.join(HERE, "calico")
STAND_IN = os.environ.get("CALICOCTL_STAND_IN", os.path.join(CALICO_DIR, "calicoctl"))
PLAYBOOK = os.path.join(CALICO_DIR, "bgp.yml")
LAB_VARS = os.path.join(CALICO_DIR, "vars.yml")
SAMPLE_CALICO = os.path.join(lab.TOP, "inventories", "sample", "group_vars", "all", "calico.yml")
CRD_DIR = os.path.join(lab.TOP, "tests", "fixtures", "crds")
CALICOCTL = "/usr/local/bin/calicoctl"
NODE_DIR = "/var/tmp/hakube-e2e-calico"
PYLIB = NODE_DIR + "/pylib"
E2E_LABEL = {"hakube.io/e2e": "calico-crs"}
OWNER = {"hakube.io/managed-by": "hakube"}
CRDS = (("BGPConfiguration", "bgpconfigurations"), ("BGPPeer", "bgppeers"))
TRANSIENT = re.compile(
    r"connection refused|unable to connect to the server|i/o timeout|tls handshake timeout|"
    r"context deadline exceeded|connection reset by peer|no route to host|etcdserver|"
    r"the server is currently unable|serviceunavailable|http2: client connection lost|"
    r"unexpected eof|is not running|no such container|unreachable=[1-9]|"
    r"did not answer within", re.I)


# ------------------------------------------------------------------ talking to the lab

def _kubectl(node, *args, stdin=None, check=True):
    cmd = ["docker", "exec", "-i", node, "kubectl", "--kubeconfig=" + lab.ADMIN_CONF] + list(args)
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d: %s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc


def _api_node(timeout=300):
    """A running control plane with admin.conf whose apiserver (through the VIP) answers."""
    def pick():
        for node in lab.CONTROL_PLANES:
            if not lab.is_running(node):
                continue
            if lab.dexec(node, "test", "-f", lab.ADMIN_CONF, check=False).returncode != 0:
                continue
            if _kubectl(node, "get", "--raw=/readyz", check=False).returncode == 0:
                return node
        return None
    return lab.wait_for(pick, timeout=timeout, interval=5, what="a control plane whose apiserver answers")


def kube(*args, stdin=None, check=True, attempts=6):
    """kubectl on a working control plane, repeated on connection errors."""
    for attempt in range(attempts):
        proc = _kubectl(_api_node(), *args, stdin=stdin, check=False)
        if proc.returncode == 0 or not TRANSIENT.search(proc.stderr) or attempt == attempts - 1:
            break
        time.sleep(10)
    if check and proc.returncode != 0:
        raise AssertionError("kubectl %s exited %d: %s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def live(plural, name=None):
    """The stored objects, read with kubectl (not through the stand-in): {name: object}."""
    args = ["get", plural + ".projectcalico.org"] + ([name] if name else []) + ["--output=json"]
    data = json.loads(kube(*args).stdout)
    items = [data] if name else data["items"]
    return {i["metadata"]["name"]: i for i in items}


# ------------------------------------------------------------------ what gets installed

def crd(kind, plural):
    """A CustomResourceDefinition for projectcalico.org/v3 <kind> from the fixture schema."""
    with open(os.path.join(CRD_DIR, "projectcalico.org_%s.yaml" % plural), encoding="utf-8") as handle:
        schema = yaml.safe_load(handle)["openAPIV3Schema"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": plural + ".projectcalico.org", "labels": dict(E2E_LABEL)},
        "spec": {
            "group": "projectcalico.org",
            "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                      "singular": kind.lower()},
            "scope": "Cluster",
            "versions": [{"name": "v3", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema}, "subresources": {}}],
        },
    }


def schema_defaults(plural):
    """Top-level spec fields the CRD schema defaults (the apiserver fills them in)."""
    with open(os.path.join(CRD_DIR, "projectcalico.org_%s.yaml" % plural), encoding="utf-8") as handle:
        props = yaml.safe_load(handle)["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


def _closure(name, seen):
    """The installed distributions ``name`` needs (no extras), ``name`` included."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return
    seen[key] = dist
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        _closure(re.match(r"[A-Za-z0-9._-]+", req).group(0), seen)


def python_kubernetes(dest):
    """Copy the kubernetes client and what it needs from this venv to ``dest``."""
    seen = {}
    _closure("kubernetes", seen)
    for dist in seen.values():
        for rel in dist.files or []:
            if str(rel).startswith("..") or "__pycache__" in str(rel):
                continue
            src = str(dist.locate_file(rel))
            if os.path.isfile(src):
                target = os.path.join(dest, str(rel))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(src, target)
    return sorted(seen)


class Setup:
    """What the module installed, so that the finalizer removes exactly that."""

    def __init__(self, pylib):
        self.pylib = pylib
        self.nodes = set()
        self.crds = []

    def prepare(self, node):
        """Stand-in and Python client on ``node`` (again when they went missing)."""
        if node in self.nodes and lab.dexec(
                node, "test", "-x", CALICOCTL, "-a", "-d", PYLIB + "/kubernetes", check=False).returncode == 0:
            return
        have = lab.dexec(node, "sh", "-c", "test -e %s && head -c 400 %s" % (CALICOCTL, CALICOCTL),
                         check=False).stdout
        if have and "STAND-IN for calicoctl" not in have:
            pytest.fail("%s has a calicoctl of its own at %s; not replacing it" % (node, CALICOCTL))
        lab.dexec(node, "mkdir", "-p", PYLIB)
        lab.run(["docker", "cp", self.pylib + "/.", "%s:%s" % (node, PYLIB)])
        lab.run(["docker", "cp", STAND_IN, "%s:%s" % (node, CALICOCTL)])
        lab.dexec(node, "chmod", "0755", CALICOCTL)
        self.nodes.add(node)
        lab.dexec(node, "env", "PYTHONPATH=" + PYLIB, "python3", "-c", "import kubernetes.dynamic")

    def remove(self):
        for node in sorted(self.nodes):
            if lab.is_running(node):
                lab.dexec(node, "rm", "-rf", CALICOCTL, NODE_DIR, check=False)


@pytest.fixture(scope="module")
def calico(cluster, tmp_path_factory):  # pylint: disable=unused-argument
    pylib = str(tmp_path_factory.mktemp("pylib"))
    python_kubernetes(pylib)
    setup = Setup(pylib)
    try:
        for kind, plural in CRDS:
            name = plural + ".projectcalico.org"
            found = kube("get", "crd", name, "--output=json", "--ignore-not-found").stdout.strip()
            if found and json.loads(found)["metadata"].get("labels", {}) != E2E_LABEL:
                pytest.skip("the cluster has a %s of its own; not touching it" % name)
            kube("apply", "--server-side", "--force-conflicts", "--field-manager=hakube-e2e",
                 "--filename=-", stdin=json.dumps(crd(kind, plural)))
            setup.crds.append(name)
        kube("wait", "--for=condition=Established", "--timeout=120s",
             *["crd/" + n for n in setup.crds])
        # leftovers of an interrupted earlier run
        for _kind, plural in CRDS:
            kube("delete", plural + ".projectcalico.org", "--all", "--wait")
        yield setup
    finally:
        try:
            for name in setup.crds:
                kube("delete", "crd", name, "--ignore-not-found", "--wait", "--timeout=120s", check=False)
        finally:
            setup.remove()


# ------------------------------------------------------------------ running the role

def play(setup, *args, extra=None):
    """ansible-playbook tests/e2e/calico/bgp.yml; returns (rc, changed on the node, output).

    Repeated (on a node chosen again) when it failed on a connection error; the counts
    are those of the last run, and ``attempts`` tells how many there were."""
    for attempt in range(4):
        node = _api_node()
        setup.prepare(node)
        cmd = [os.path.join(lab.TOP, ".venv", "bin", "ansible-playbook"), PLAYBOOK, "-i", lab.INVENTORY,
               "-e", "@" + SAMPLE_CALICO, "-e", "@" + LAB_VARS,
               "-e", json.dumps({"calico_e2e_host": node, "calico_host": node,
                                 "calico_e2e_pythonpath": PYLIB})]
        if extra is not None:
            cmd += ["-e", json.dumps(extra)]
        cmd += list(args)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(lab.TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0",
                   PATH=os.path.join(lab.TOP, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""))
        proc = lab.run(cmd, check=False, timeout=900, env=env, cwd=lab.TOP)
        out = proc.stdout + proc.stderr
        counts = lab.recap(proc.stdout).get(node, {})
        if proc.returncode == 0 or not TRANSIENT.search(out) or attempt == 3:
            return proc.returncode, counts.get("changed"), out, attempt + 1
        time.sleep(15)
    raise AssertionError("unreachable")


def sample():
    with open(SAMPLE_CALICO, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def declared_peers():
    """{name: spec} as the sample declares them (name taken out, as the role does)."""
    return {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in sample()["calico_bgp_peers"]}


def declared_bgp_configuration():
    """The default BGPConfiguration's spec the role renders from the sample and the lab."""
    values = sample()
    with open(os.path.join(lab.TOP, "inventories", "lab", "group_vars", "all", "lab.yml"), encoding="utf-8") as h:
        lab_vars = yaml.safe_load(h)
    pod, svc, lb = lab_vars["hakube_pod_cidr"], lab_vars["hakube_service_cidr"], lab_vars["hakube_loadbalancer_cidr"]
    prefixes = copy.deepcopy(values["calico_bgp_prefix_advertisements"])
    for prefix in prefixes:
        prefix["cidr"] = pod
    return {
        "logSeverityScreen": values["calico_bgp_log_severity_screen"],
        "nodeToNodeMeshEnabled": values["calico_bgp_node_to_node_mesh"],
        "asNumber": values["calico_bgp_as_number"],
        "listenPort": values["calico_bgp_listen_port"],
        "bindMode": values["calico_bgp_bind_mode"],
        "serviceClusterIPs": [{"cidr": svc}],
        "serviceLoadBalancerIPs": [{"cidr": lb}],
        "communities": values["calico_bgp_communities"],
        "prefixAdvertisements": prefixes,
    }


def peers_var(peers):
    return {"calico_bgp_peers": [dict({"name": n}, **s) for n, s in peers.items()]}


def _ok(rc, out):
    assert rc == 0, out[-8000:]


# ------------------------------------------------------------------ the assertions

def test_first_run_creates_the_declared_bgp_configuration_and_peers(calico):
    rc, changed, out, attempts = play(calico)
    _ok(rc, out)
    if attempts == 1:
        # the recap counts tasks: the BGPConfiguration task and the peers' loop
        assert changed == 2, out[-8000:]
        for name in declared_peers():
            assert re.search(r"^changed: \[\S+\] => \(item=%s\)" % re.escape(name), out, re.M), name

    cfg = live("bgpconfigurations")
    assert sorted(cfg) == ["default"]
    want = dict(schema_defaults("bgpconfigurations"), **declared_bgp_configuration())
    assert want["asNumber"] == 64517 and want["serviceLoadBalancerIPs"]
    assert cfg["default"]["spec"] == want
    assert cfg["default"]["apiVersion"] == "projectcalico.org/v3"

    peers = live("bgppeers")
    assert sorted(peers) == sorted(declared_peers())
    for name, spec in declared_peers().items():
        assert peers[name]["spec"] == dict(schema_defaults("bgppeers"), **spec), name
        assert peers[name]["metadata"]["labels"] == OWNER, name


def test_second_run_changes_nothing(calico):
    before = {n: o["metadata"]["resourceVersion"] for n, o in live("bgppeers").items()}
    before["default"] = live("bgpconfigurations", "default")["default"]["metadata"]["resourceVersion"]
    rc, changed, out, _attempts = play(calico)
    _ok(rc, out)
    assert changed == 0, out[-8000:]
    after = {n: o["metadata"]["resourceVersion"] for n, o in live("bgppeers").items()}
    after["default"] = live("bgpconfigurations", "default")["default"]["metadata"]["resourceVersion"]
    assert after == before


def test_check_mode_reports_a_changed_peer_and_writes_nothing(calico):
    peers = declared_peers()
    peers["openwrt-peer"]["asNumber"] = 64999
    before = live("bgppeers")
    rc, changed, out, _attempts = play(calico, "--check", "--diff", extra=peers_var(peers))
    _ok(rc, out)
    assert changed == 1, out[-8000:]
    assert re.search(r"^changed: \[\S+\] => \(item=openwrt-peer\)", out, re.M), out[-8000:]
    assert re.search(r"^ok: \[\S+\] => \(item=tiny-unraid-peer\)", out, re.M), out[-8000:]
    assert re.search(r'^\+.*asNumber"?: 64999', out, re.M), out[-8000:]
    after = live("bgppeers")
    assert after == before
    assert after["openwrt-peer"]["spec"]["asNumber"] == 64512


def test_a_peer_taken_out_is_deleted_and_an_unowned_peer_is_left_alone(calico):
    manual = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
              "metadata": {"name": "manual-peer", "labels": {"team": "network"}},
              "spec": {"peerIP": "10.31.1.1", "asNumber": 65001}}
    kube("create", "--validate=strict", "--filename=-", stdin=json.dumps(manual))
    before = live("bgppeers")
    assert "hakube.io/managed-by" not in before["manual-peer"]["metadata"]["labels"]

    peers = declared_peers()
    del peers["tiny-unraid-peer"]
    rc, changed, out, attempts = play(calico, extra=peers_var(peers))
    _ok(rc, out)
    if attempts == 1:
        assert changed == 1, out[-8000:]
        assert re.search(r"^changed: \[\S+\] => \(item=tiny-unraid-peer\)", out, re.M), out[-8000:]
    after = live("bgppeers")
    assert sorted(after) == ["manual-peer", "openwrt-peer"]
    assert after["manual-peer"] == before["manual-peer"]
    assert after["openwrt-peer"] == before["openwrt-peer"]

    rc, changed, out, _attempts = play(calico, extra=peers_var(peers))
    _ok(rc, out)
    assert changed == 0, out[-8000:]


def test_a_misspelled_field_is_rejected_by_the_apiserver_schema(calico):
    # the peers as they are now (openwrt-peer only), plus one with a typo: the loop of
    # the task goes on after a failed item, so any other new peer would be written
    peers = {"typo-peer": {"peerIP": "10.31.2.2", "asNumbr": 65002},
             "openwrt-peer": declared_peers()["openwrt-peer"]}
    before = live("bgppeers")
    rc, _changed, out, _attempts = play(calico, extra=peers_var(peers))
    assert rc != 0, out[-8000:]
    # the task that failed, and the apiserver's strict field validation as the reason
    assert re.search(r"TASK \[hakube\.cluster\.calico : Apply the BGP peers\]", out)
    assert "typo-peer" in out
    assert "Failed to create 'BGPPeer' resource" in out, out[-8000:]
    assert 'strict decoding error: unknown field \\"spec.asNumbr\\"' in out \
        or 'strict decoding error: unknown field "spec.asNumbr"' in out, out[-8000:]
    assert live("bgppeers") == before
