"""Run playbooks/control_plane.yml and playbooks/workers.yml against fake kubeadm modules.

The roles are the real ones; hakube.cluster.kubeadm_init/_token/_join/_etcd_member and
kubectl are replaced by fakes (tests/fixtures/kubeadm/fake_modules/) that keep a pretend
cluster in a JSON file. Every host is the local machine (ansible_connection=local) with
its own inventory name, and every path the roles write goes to a temporary directory.

This checks the flow the roles promise: init once, control planes join one at a time
after their stale etcd member is removed, workers join, a token (and a certificate key)
only while a host still has to join, a converged cluster reports changed=0, secrets never
reach the output, and check mode changes nothing.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FAKES = os.path.join(TOP, "tests", "fixtures", "kubeadm", "fake_modules")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

CPS = ["k8s-calico-master-10-31-90-1", "k8s-calico-master-10-31-90-2", "k8s-calico-master-10-31-90-3"]
WORKERS = ["k8s-calico-worker-10-31-90-4", "k8s-calico-worker-10-31-90-5"]
TOKEN = "abcdef.0123456789abcdef"
CERT_KEY = "e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

pytestmark = pytest.mark.slow


class Lab:
    def __init__(self, tmp):
        self.tmp = str(tmp)
        self.state_file = os.path.join(self.tmp, "cluster.json")
        self.admin_conf = os.path.join(self.tmp, "admin.conf")
        coll = os.path.join(self.tmp, "collections", "ansible_collections", "hakube", "cluster")
        os.makedirs(os.path.join(coll, "plugins", "modules"))
        os.makedirs(os.path.join(coll, "plugins", "module_utils"))
        os.makedirs(os.path.join(coll, "meta"))
        os.symlink(os.path.join(TOP, "roles"), os.path.join(coll, "roles"))
        with open(os.path.join(coll, "meta", "runtime.yml"), "w") as f:
            f.write("---\nrequires_ansible: '>=2.17.0'\n")
        for name in os.listdir(FAKES):
            if name.startswith("kubeadm_"):
                shutil.copy(os.path.join(FAKES, name), os.path.join(coll, "plugins", "modules", name))
        shutil.copy(os.path.join(FAKES, "_fake_state.py"), os.path.join(coll, "plugins", "module_utils"))
        # The roles write their files with the real file_content and file_set modules.
        for name in ("file_content.py", "file_set.py"):
            shutil.copy(os.path.join(TOP, "plugins", "modules", name), os.path.join(coll, "plugins", "modules", name))
        shutil.copy(os.path.join(TOP, "plugins", "module_utils", "files.py"),
                    os.path.join(coll, "plugins", "module_utils", "files.py"))
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        shutil.copy(os.path.join(FAKES, "kubectl"), os.path.join(self.bin, "kubectl"))
        os.chmod(os.path.join(self.bin, "kubectl"), 0o755)

        inventory = {"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {
                "kube_control_plane": {"hosts": {
                    h: {"ansible_host": "10.31.90.%d" % (i + 1),
                        "control_plane_kubeadm_config_path": os.path.join(self.tmp, h, "kubeadm-config.yaml")}
                    for i, h in enumerate(CPS)}},
                "kube_node": {"hosts": {h: {"ansible_host": "10.31.90.%d" % (i + 4)} for i, h in enumerate(WORKERS)}},
                "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
            }}}
        os.makedirs(os.path.join(self.tmp, "inventory", "group_vars", "all"))
        with open(os.path.join(self.tmp, "inventory", "hosts.yml"), "w") as f:
            yaml.safe_dump(inventory, f)
        for name in ("hakube.yml", "control_plane.yml"):
            shutil.copy(os.path.join(TOP, "inventories", "sample", "group_vars", "all", name),
                        os.path.join(self.tmp, "inventory", "group_vars", "all", name))
        with open(os.path.join(self.tmp, "ansible.cfg"), "w") as f:
            f.write("[defaults]\ncollections_path = %s:%s\nforks = 10\nhost_key_checking = False\n"
                    "retry_files_enabled = False\ngathering = implicit\ngather_subset = !all,min\n"
                    % (os.path.join(self.tmp, "collections"), os.path.join(TOP, ".collections")))
        self.write_state({"initialized": False, "init_node": CPS[0], "endpoint": "10.31.90.0:8443",
                          "nodes": [], "members": [], "calls": []})

    def write_state(self, state):
        with open(self.state_file, "w") as f:
            json.dump(state, f)

    def state(self):
        with open(self.state_file) as f:
            return json.load(f)

    def run(self, *args, expect_rc=0):
        before = len(self.state()["calls"])
        extra = {
            "control_plane_admin_conf": self.admin_conf,
            "workers_admin_conf": self.admin_conf,
            "control_plane_root_kubeconfig_path": os.path.join(self.tmp, "root", ".kube", "config"),
            "hakube_credentials_dir": os.path.join(self.tmp, "credentials"),
            "control_plane_fetch_admin_conf": True,
            "control_plane_node_register_timeout": 10,
            "workers_node_register_timeout": 10,
        }
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(self.tmp, "ansible.cfg"),
                   HAKUBE_FAKE_STATE=self.state_file, HAKUBE_FAKE_ADMIN_CONF=self.admin_conf,
                   PATH=self.bin + os.pathsep + os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        # -v prints every result: a task without no_log would show the token
        cmd = [ANSIBLE_PLAYBOOK, "-v", "-i", os.path.join(self.tmp, "inventory", "hosts.yml"), "-e", json.dumps(extra),
               os.path.join(TOP, "playbooks", "control_plane.yml"), os.path.join(TOP, "playbooks", "workers.yml")]
        proc = subprocess.run(cmd + list(args), cwd=self.tmp, env=env, capture_output=True, text=True, timeout=600, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == expect_rc, out
        recap = {m.group(1): dict(changed=int(m.group(3)), failed=int(m.group(5))) for m in RECAP.finditer(out)}
        return out, recap, self.state()["calls"][before:]


def calls_of(calls, module, check_mode=None):
    return [c for c in calls if c["module"] == module and (check_mode is None or c["check_mode"] == check_mode)]


def check_fresh_check_mode(lab, run):
    """Check mode before anything exists: nothing is changed, no token is asked for."""
    out, recap, calls = run
    assert not lab.state()["initialized"]
    assert all(c["check_mode"] for c in calls)
    assert calls_of(calls, "kubeadm_token") == []
    assert all(r["failed"] == 0 for r in recap.values()), out


def check_first_run(lab, run):
    out, recap, calls = run
    state = lab.state()
    assert all(r["failed"] == 0 for r in recap.values()), out
    assert state["initialized"]
    assert sorted(state["nodes"]) == sorted(CPS + WORKERS)
    assert [m["name"] for m in state["members"]] == CPS
    assert len(calls_of(calls, "kubeadm_init", check_mode=False)) == 1
    # one token with a certificate key for the control planes, one plain token for workers
    tokens = calls_of(calls, "kubeadm_token")
    assert [t["params"]["certificate_key"] for t in tokens] == [True, False]
    assert all(not t["check_mode"] for t in tokens)
    joins = calls_of(calls, "kubeadm_join", check_mode=False)
    assert sorted(j["params"]["node_name"] for j in joins) == sorted(CPS[1:] + WORKERS)
    for j in joins:
        assert j["params"]["token_given"] is True
        if j["params"]["control_plane"]:
            assert j["params"]["certificate_key_given"] is True
            assert j["params"]["api_server_endpoint"] == "10.31.90.0:8443"
            assert j["params"]["extra_config"] == {"nodeRegistration": {"kubeletExtraArgs": [
                {"name": "node-ip", "value": j["params"]["advertise_address"]}]}}
        else:
            assert "certificate_key_given" not in j["params"]
    # control planes one at a time, workers together
    cp_overlaps = [o for o in state["overlaps"] if set(o) & set(CPS)]
    assert cp_overlaps and all(len(o) == 1 for o in cp_overlaps), cp_overlaps
    worker_overlaps = [o for o in state["overlaps"] if set(o) & set(WORKERS)]
    assert any(len(o) == len(WORKERS) for o in worker_overlaps), worker_overlaps
    # stale etcd members removed (on the first control plane) before any control plane joins
    removals = calls_of(calls, "kubeadm_etcd_member", check_mode=False)
    assert sorted(r["params"]["name"] for r in removals) == sorted(CPS[1:])
    assert all(r["params"]["state"] == "absent" for r in removals)
    assert {r["params"]["peer_url"] for r in removals} == {"https://10.31.90.2:2380", "https://10.31.90.3:2380"}
    first_cp_join = min(j["time"] for j in joins if j["params"]["control_plane"])
    assert max(r["time"] for r in removals) < first_cp_join
    # secrets never reach the output
    assert TOKEN not in out and "0123456789abcdef" not in out
    assert CERT_KEY not in out
    # kubeconfigs and the kubeadm configuration
    root_conf = os.path.join(lab.tmp, "root", ".kube", "config")
    assert oct(os.stat(root_conf).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(root_conf)).st_mode & 0o777) == "0o700"
    fetched = os.path.join(lab.tmp, "credentials", "admin.conf")
    assert open(fetched).read() == open(lab.admin_conf).read()
    assert oct(os.stat(fetched).st_mode & 0o777) == "0o600"
    config = os.path.join(lab.tmp, CPS[0], "kubeadm-config.yaml")
    assert oct(os.stat(config).st_mode & 0o777) == "0o600"
    docs = list(yaml.safe_load_all(open(config)))
    assert docs[1]["controlPlaneEndpoint"] == "10.31.90.0:8443"


def check_converged(run, check_mode=False):
    out, recap, calls = run
    assert set(recap) == set(CPS + WORKERS), out
    assert {h: r["changed"] for h, r in recap.items()} == {h: 0 for h in recap}, out
    assert calls_of(calls, "kubeadm_token") == []
    assert calls_of(calls, "kubeadm_join", check_mode=False) == []
    assert calls_of(calls, "kubeadm_etcd_member") == []
    if check_mode:
        assert all(c["check_mode"] for c in calls if c["module"] != "kubeadm_init")


def break_cluster(lab):
    """cp-3's join was killed (its etcd member never started) and a worker cannot join."""
    state = lab.state()
    state["nodes"].remove(CPS[2])
    for member in state["members"]:
        if member["name"] == CPS[2]:
            member["name"] = ""
    state["nodes"].remove(WORKERS[1])
    state["fail_join"] = WORKERS[1]
    lab.write_state(state)


def check_repair_and_failure(lab, run):
    out, recap, calls = run
    cp3, worker = CPS[2], WORKERS[1]
    # the control plane is repaired: stale member removed, one token with a key, one join
    assert recap[cp3]["changed"] > 0
    assert [r["params"]["name"] for r in calls_of(calls, "kubeadm_etcd_member", check_mode=False)] == [cp3]
    tokens = calls_of(calls, "kubeadm_token")
    assert [t["params"]["certificate_key"] for t in tokens] == [True, False]
    assert sorted(j["params"]["node_name"] for j in calls_of(calls, "kubeadm_join", check_mode=False)) == [
        cp3, worker]
    after = lab.state()
    assert cp3 in after["nodes"]
    assert sorted(m["name"] for m in after["members"]) == sorted(CPS)
    # the worker's failure says why, without the token
    assert recap[worker]["failed"] == 1
    assert "kubeadm join failed on %s" % worker in out
    assert "port 10250 is in use" in out
    assert TOKEN not in out


def reset_init_host(lab):
    """reset.yml took the init host out: its Node and etcd member are gone, its files too."""
    state = lab.state()
    state["nodes"].remove(CPS[0])
    state["members"] = [m for m in state["members"] if m["name"] != CPS[0]]
    lab.write_state(state)


def check_refused_without_a_member(run):
    """--limit to the reset init host: the cluster answers at the endpoint, but no control
    plane of the play belongs to it. Nothing may be initialised or joined."""
    out, recap, calls = run
    assert recap[CPS[0]]["failed"] == 1, out
    assert "none of the control planes in this play (%s) is joined to it" % CPS[0] in out
    assert "second cluster" in out
    assert calls_of(calls, "kubeadm_join", check_mode=False) == []
    assert calls_of(calls, "kubeadm_token") == []
    assert calls_of(calls, "kubeadm_etcd_member") == []


def check_init_host_joins_again(lab, run):
    """Without any -e: the first joined control plane stands in for the init host, and
    the init host joins like any other control plane."""
    out, recap, calls = run
    assert all(r["failed"] == 0 for r in recap.values()), out
    assert "%s holds no cluster, but %s runs the cluster" % (CPS[0], CPS[1]) in out
    inits = calls_of(calls, "kubeadm_init")
    assert [c["params"]["endpoint_in_use"] for c in inits] == ["report"]
    joins = calls_of(calls, "kubeadm_join", check_mode=False)
    assert [(j["params"]["node_name"], j["params"]["control_plane"]) for j in joins] == [(CPS[0], True)]
    assert joins[0]["params"]["certificate_key_given"] is True
    assert [t["params"]["certificate_key"] for t in calls_of(calls, "kubeadm_token")] == [True]
    assert [r["params"]["name"] for r in calls_of(calls, "kubeadm_etcd_member", check_mode=False)] == [CPS[0]]
    # tokens, etcd and kubectl went through the stand-in, not the host that had no cluster
    for task in ("Create a join token and upload the certificates", "Remove a stale etcd member",
                 "Wait until the API server answers through the control-plane endpoint"):
        section = out.split(task, 1)[1].split("TASK [", 1)[0]
        assert "-> %s(" % CPS[1] in section and "-> %s(" % CPS[0] not in section, section
    state = lab.state()
    assert sorted(state["nodes"]) == sorted(CPS + WORKERS)
    assert sorted(m["name"] for m in state["members"]) == sorted(CPS)
    assert TOKEN not in out and CERT_KEY not in out
    assert recap[CPS[0]]["changed"] > 0
    assert all(recap[h]["changed"] == 0 for h in CPS[1:] + WORKERS), out


def test_role_flow(tmp_path):
    """One lab, one story (a single test so that pytest -n keeps its steps together)."""
    lab = Lab(tmp_path)
    check_fresh_check_mode(lab, lab.run("--check"))
    check_first_run(lab, lab.run())
    check_converged(lab.run())
    check_converged(lab.run("--check"), check_mode=True)
    break_cluster(lab)
    check_repair_and_failure(lab, lab.run(expect_rc=2))
    state = lab.state()
    del state["fail_join"]
    lab.write_state(state)
    out, recap = lab.run()[:2]
    assert WORKERS[1] in lab.state()["nodes"]
    assert recap[WORKERS[1]]["changed"] > 0 and recap[CPS[2]]["changed"] == 0, out

    reset_init_host(lab)
    check_fresh_run = lab.run("--check")
    assert all(r["failed"] == 0 for r in check_fresh_run[1].values()), check_fresh_run[0]
    assert calls_of(check_fresh_run[2], "kubeadm_join", check_mode=False) == []
    assert CPS[0] not in lab.state()["nodes"]
    check_refused_without_a_member(lab.run("--limit", CPS[0], expect_rc=2))
    check_init_host_joins_again(lab, lab.run())
    check_converged(lab.run())
