"""hakube.cluster.apiserver_lb renders the right files for 1, 3 and 5 control planes.

The role runs for real (ansible-playbook, local connection) against an inventory of
fake hosts; every host writes into its own directory under tmp_path (the role's
apiserver_lb_config_dir and apiserver_lb_manifest_dir point there), so nothing on this
machine is touched and no host is contacted. The asserts are exact: priorities, states,
virtual_router_id, unicast peers, backend lists, check thresholds, file modes, the
pod annotations' hashes, membership changes and mode switches.
"""
import hashlib
import json
import os
import re
import stat
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
VIP = "10.31.90.0"
# Default virtual_router_id: int(VIP) mod 255 + 1 = (10 + 31 + 90 + 0) mod 255 + 1.
VRID = 132
SUBNET = "10.31.90"


def _hosts(n_cp, n_workers, first_worker=4):
    cps = {"cp%d" % i: {"ansible_host": "%s.%d" % (SUBNET, i)} for i in range(1, n_cp + 1)}
    workers = {"w%d" % i: {"ansible_host": "%s.%d" % (SUBNET, i)} for i in range(first_worker, first_worker + n_workers)}
    return cps, workers


def _run_role(tmp_path, cps, workers, check=False, **extra):
    """Run the role on the given hosts; return {host: directory} and the output."""
    root = tmp_path / "hosts"
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "hakube_apiserver_lb_mode": "keepalived_haproxy",
                "hakube_apiserver_vip": VIP,
                "hakube_apiserver_lb_port": 8443,
                "hakube_apiserver_port": 6443,
                "hakube_node_cidr": "10.31.0.0/16",
                "hakube_credentials_dir": str(tmp_path / "credentials"),
                "apiserver_lb_config_dir": str(root) + "/{{ inventory_hostname }}/apiserver-lb",
                "apiserver_lb_manifest_dir": str(root) + "/{{ inventory_hostname }}/manifests",
                "apiserver_lb_keepalived_interface": "eth0",
            },
            "children": {
                "kube_control_plane": {"hosts": cps},
                "kube_node": {"hosts": workers},
                "k8s_cluster": {"children": {"kube_control_plane": {}, "kube_node": {}}},
            },
        }
    }
    inventory["all"]["vars"].update(extra)
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(
        "- hosts: k8s_cluster\n  gather_facts: false\n  roles:\n    - role: hakube.cluster.apiserver_lb\n"
    )
    (tmp_path / "ansible.cfg").write_text("[defaults]\nforks = 10\n")
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
    )
    res = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")] + (["--check"] if check else []),
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    return {h: root / h for h in list(cps) + list(workers)}, out


def _recap(out):
    """{host: {ok: n, changed: n, ...}} from the PLAY RECAP."""
    recap = {}
    for line in out.split("PLAY RECAP", 1)[1].splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if m:
            recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return recap


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _keepalived(path):
    text = path.read_text()
    conf = {}
    for key in ("router_id", "state", "interface", "virtual_router_id", "priority", "advert_int", "auth_pass",
                "unicast_src_ip", "interval", "timeout", "fall", "rise", "weight"):
        found = re.findall(r"^\s*%s\s+(\S+)\s*$" % key, text, re.M)
        conf[key] = found[0] if len(found) == 1 else found or None
    conf["nopreempt"] = bool(re.search(r"^\s*nopreempt\s*$", text, re.M))
    peers = re.search(r"unicast_peer \{\n(.*?)\n\s*\}", text, re.S)
    conf["peers"] = peers.group(1).split() if peers else None
    vips = re.search(r"virtual_ipaddress \{\n(.*?)\n\s*\}", text, re.S)
    conf["vip"] = vips.group(1).strip()
    return conf, text


def _backends(path):
    return re.findall(r"^\s*server (\S+) (\S+) check check-ssl verify none$", path.read_text(), re.M)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _annotation(manifest):
    doc = yaml.safe_load(manifest.read_text())
    return doc["metadata"]["annotations"]["hakube.io/config-sha256"], doc


@pytest.mark.parametrize(
    "n_cp, extra, states",
    [
        (1, {}, ["BACKUP"]),
        (3, {"apiserver_lb_keepalived_unicast": True, "apiserver_lb_keepalived_nopreempt": False}, ["MASTER", "BACKUP", "BACKUP"]),
        (5, {"apiserver_lb_keepalived_unicast": True}, ["BACKUP"] * 5),
    ],
    ids=["1cp-multicast", "3cp-unicast-preempt", "5cp-unicast"],
)
def test_keepalived_haproxy(tmp_path, n_cp, extra, states):
    cps, workers = _hosts(n_cp, 1, first_worker=9)
    dirs = _run_role(tmp_path, cps, workers, **extra)[0]
    unicast = extra.get("apiserver_lb_keepalived_unicast", False)
    nopreempt = extra.get("apiserver_lb_keepalived_nopreempt", True)
    ips = ["%s.%d" % (SUBNET, i) for i in range(1, n_cp + 1)]

    password_file = tmp_path / "credentials" / "vrrp_password"
    password = password_file.read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9]{8}", password)
    assert _mode(password_file) == 0o600
    assert _mode(tmp_path / "credentials") == 0o700
    assert not (tmp_path / "credentials" / "haproxy_stats_password").exists()

    for pos, host in enumerate(sorted(cps)):
        d = dirs[host]
        conf, text = _keepalived(d / "apiserver-lb" / "keepalived.conf")
        assert conf["router_id"] == "hakube_cp%d" % (pos + 1)
        assert conf["state"] == states[pos]
        assert conf["priority"] == str(150 - 10 * pos)
        assert conf["virtual_router_id"] == str(VRID)
        assert conf["interface"] == "eth0"
        assert conf["advert_int"] == "1"
        assert conf["auth_pass"] == password
        assert conf["nopreempt"] is nopreempt
        assert (conf["interval"], conf["fall"], conf["rise"], conf["timeout"], conf["weight"]) == ("1", "2", "2", "4", "0")
        assert conf["vip"] == "%s/16 dev eth0" % VIP
        assert 'script "%s/apiserver-lb/check_apiserver.sh"' % d in text
        if unicast:
            assert conf["unicast_src_ip"] == ips[pos]
            assert conf["peers"] == [ip for ip in ips if ip != ips[pos]]
        else:
            assert conf["unicast_src_ip"] is None and conf["peers"] is None

        check = (d / "apiserver-lb" / "check_apiserver.sh").read_text()
        assert check.startswith("#!/bin/sh\n")
        assert "--max-time 1 " in check
        assert 'get "https://%s:6443/healthz"' % ips[pos] in check
        assert 'get "https://127.0.0.1:${LB_PORT}/healthz"' in check
        assert "VIP=%s\nLB_PORT=8443\n" % VIP in check
        assert subprocess.run(["sh", "-n", str(d / "apiserver-lb" / "check_apiserver.sh")], check=False).returncode == 0

        cfg = d / "apiserver-lb" / "haproxy.cfg"
        assert _backends(cfg) == [("cp%d" % (i + 1), "%s:6443" % ip) for i, ip in enumerate(ips)]
        cfg_text = cfg.read_text()
        assert "    bind 0.0.0.0:8443\n" in cfg_text
        assert "    option httpchk GET /healthz\n    http-check expect status 200\n" in cfg_text
        assert "    default-server inter 1s fall 2 rise 2\n" in cfg_text
        assert "stats auth" not in cfg_text and "listen stats" not in cfg_text
        assert "    stats socket /run/apiserver-lb/haproxy.sock mode 600 level user\n" in cfg_text

        modes = {
            "apiserver-lb": 0o700, "manifests": 0o700, "apiserver-lb/keepalived.conf": 0o600,
            "apiserver-lb/check_apiserver.sh": 0o700, "apiserver-lb/haproxy.cfg": 0o600,
            "manifests/keepalived.yaml": 0o600, "manifests/haproxy.yaml": 0o600,
        }
        assert {k: _mode(d / k) for k in modes} == modes

        ka_sha, ka = _annotation(d / "manifests" / "keepalived.yaml")
        expected = " ".join([_sha256(d / "apiserver-lb" / "keepalived.conf"), _sha256(d / "apiserver-lb" / "check_apiserver.sh")])
        assert ka_sha == hashlib.sha256(expected.encode()).hexdigest()
        hp_sha, hp = _annotation(d / "manifests" / "haproxy.yaml")
        assert hp_sha == _sha256(cfg)
        kc, hc = ka["spec"]["containers"][0], hp["spec"]["containers"][0]
        assert ka["spec"]["hostNetwork"] is True and hp["spec"]["hostNetwork"] is True
        assert kc["image"] == "docker.io/osixia/keepalived:2.0.20" and hc["image"] == "docker.io/library/haproxy:2.8"
        assert kc["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_BROADCAST", "NET_RAW"]
        assert kc["command"] == ["keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
                                 "--use-file=%s/apiserver-lb/keepalived.conf" % d]
        assert hc["command"] == ["haproxy", "-W", "-db", "-f", "%s/apiserver-lb/haproxy.cfg" % d]
        assert ka["spec"]["volumes"][0]["hostPath"]["path"] == str(d / "apiserver-lb")
        assert ka["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hakube-apiserver-lb"

    # Workers get nothing in this mode.
    for host in workers:
        assert not dirs[host].exists()


def test_haproxy_local_everywhere_and_stats_page(tmp_path):
    cps, workers = _hosts(3, 2)
    dirs = _run_role(tmp_path, cps, workers, hakube_apiserver_lb_mode="haproxy_local", apiserver_lb_haproxy_stats_port=8404)[0]
    stats_password = (tmp_path / "credentials" / "haproxy_stats_password").read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9]{24}", stats_password)
    assert _mode(tmp_path / "credentials" / "haproxy_stats_password") == 0o600
    assert not (tmp_path / "credentials" / "vrrp_password").exists()
    for host in list(cps) + list(workers):
        d = dirs[host]
        cfg = (d / "apiserver-lb" / "haproxy.cfg").read_text()
        assert "    bind 127.0.0.1:8443\n" in cfg
        assert _backends(d / "apiserver-lb" / "haproxy.cfg") == [("cp%d" % i, "%s.%d:6443" % (SUBNET, i)) for i in (1, 2, 3)]
        assert "    bind 127.0.0.1:8404\n" in cfg and "    stats auth hakube:%s\n" % stats_password in cfg
        assert sorted(os.listdir(d / "manifests")) == ["haproxy.yaml"]
        assert sorted(os.listdir(d / "apiserver-lb")) == ["haproxy.cfg"]
    # Back to keepalived_haproxy, then to haproxy_local: keepalived's files go away.
    dirs = _run_role(tmp_path, cps, workers)[0]
    assert sorted(os.listdir(dirs["cp1"] / "apiserver-lb")) == ["check_apiserver.sh", "haproxy.cfg", "keepalived.conf"]
    assert not dirs["w4"].joinpath("apiserver-lb").exists() and os.listdir(dirs["w4"] / "manifests") == []
    dirs = _run_role(tmp_path, cps, workers, hakube_apiserver_lb_mode="haproxy_local")[0]
    assert sorted(os.listdir(dirs["cp1"] / "apiserver-lb")) == ["haproxy.cfg"]
    assert sorted(os.listdir(dirs["cp1"] / "manifests")) == ["haproxy.yaml"]


def test_membership_changes_rewrite_every_node_and_modes_clean_up(tmp_path):
    cps, workers = _hosts(3, 1, first_worker=9)
    # Check mode on fresh hosts: reports the changes, writes nothing on them.
    dirs, out = _run_role(tmp_path, cps, workers, check=True, apiserver_lb_keepalived_unicast=True)
    assert not (tmp_path / "hosts").exists()
    assert {h: r["changed"] > 0 for h, r in _recap(out).items()} == {"cp1": True, "cp2": True, "cp3": True, "w9": False}
    dirs = _run_role(tmp_path, cps, workers, apiserver_lb_keepalived_unicast=True)[0]
    before = {h: (dirs[h] / "apiserver-lb" / "keepalived.conf").read_text() for h in cps}

    # Add two control planes: every node's backends and peers list all five.
    cps5 = _hosts(5, 0)[0]
    dirs, out = _run_role(tmp_path, cps5, workers, apiserver_lb_keepalived_unicast=True)
    ips = ["%s.%d" % (SUBNET, i) for i in range(1, 6)]
    for pos, host in enumerate(sorted(cps5)):
        assert [b[1] for b in _backends(dirs[host] / "apiserver-lb" / "haproxy.cfg")] == ["%s:6443" % ip for ip in ips]
        conf = _keepalived(dirs[host] / "apiserver-lb" / "keepalived.conf")[0]
        assert conf["peers"] == [ip for ip in ips if ip != ips[pos]]
        assert conf["priority"] == str(150 - 10 * pos)
    # Same password for old and new members; old members' files changed only in the peers.
    password = (tmp_path / "credentials" / "vrrp_password").read_text().strip()
    for host in cps:
        after = (dirs[host] / "apiserver-lb" / "keepalived.conf").read_text()
        assert _keepalived(dirs[host] / "apiserver-lb" / "keepalived.conf")[0]["auth_pass"] == password
        assert [line for line in after.splitlines() if line not in before[host].splitlines()] == [
            "        %s" % ip for ip in ips[3:]
        ]

    # A second run changes nothing.
    out = _run_role(tmp_path, cps5, workers, apiserver_lb_keepalived_unicast=True)[1]
    assert all(r["changed"] == 0 for r in _recap(out).values()), out

    # Remove cp2 from the control planes (it stays in the cluster as a worker): it loses
    # its manifests, and nobody forwards to it or peers with it any more.
    remaining = {h: v for h, v in cps5.items() if h != "cp2"}
    workers2 = dict(workers, cp2=cps5["cp2"])
    dirs, out = _run_role(tmp_path, remaining, workers2, apiserver_lb_keepalived_unicast=True)
    assert os.listdir(dirs["cp2"] / "manifests") == []
    assert not (dirs["cp2"] / "apiserver-lb").exists()
    for host in remaining:
        assert "%s.2:6443" % SUBNET not in [b[1] for b in _backends(dirs[host] / "apiserver-lb" / "haproxy.cfg")]
        conf = _keepalived(dirs[host] / "apiserver-lb" / "keepalived.conf")[0]
        assert "%s.2" % SUBNET not in conf["peers"]
    conf = _keepalived(dirs["cp3"] / "apiserver-lb" / "keepalived.conf")[0]
    assert conf["priority"] == "140" and conf["router_id"] == "hakube_cp2"

    # A foreign manifest of the same name is never removed; ours are when the mode changes.
    foreign = dirs["cp2"] / "manifests" / "keepalived.yaml"
    foreign.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: mine\n")
    dirs = _run_role(tmp_path, remaining, workers2, hakube_apiserver_lb_mode="external")[0]
    for host in remaining:
        assert os.listdir(dirs[host] / "manifests") == []
        assert not (dirs[host] / "apiserver-lb").exists()
    assert foreign.read_text().endswith("name: mine\n")


def test_argument_specs_cover_every_default():
    role = os.path.join(TOP, "roles", "apiserver_lb")
    with open(os.path.join(role, "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    with open(os.path.join(role, "meta", "argument_specs.yml")) as f:
        options = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == []
    for name, spec in options.items():
        if "default" in spec:
            assert defaults[name] == spec["default"], name
    assert json.dumps(sorted(n for n in options if not n.startswith(("apiserver_lb_", "hakube_")))) == "[]"
