"""Render roles/control_plane/templates/kubeadm-config.yaml.j2 the way Ansible does.

The template is rendered with ansible-core's Templar and the variables a play on a
control plane would see (role defaults < inventory group_vars < host vars < role vars),
for the sample inventory (seed 004) and for every load balancer mode, kube-proxy mode and
container runtime. Every key of the result is checked against the JSON field names of
kubeadm's, kubelet's and kube-proxy's Go types (tests/fixtures/kubeadm/*.json, made by
tests/fixtures/kubeadm/extract_fields.go from the Kubernetes sources), so a misspelled
field fails here and not on a host.
"""
import copy
import glob
import json
import os
import shutil
import subprocess

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(TOP, "roles", "control_plane")
SAMPLE = os.path.join(TOP, "inventories", "sample")
FIXTURES = os.path.join(TOP, "tests", "fixtures", "kubeadm")
FIELD_FILES = sorted(glob.glob(os.path.join(FIXTURES, "v1beta4-fields-*.json")))

CP1, CP2, CP3 = (
    "k8s-calico-master-10-31-90-1",
    "k8s-calico-master-10-31-90-2",
    "k8s-calico-master-10-31-90-3",
)
KINDS = ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]
API_VERSIONS = {
    "InitConfiguration": "kubeadm.k8s.io/v1beta4",
    "ClusterConfiguration": "kubeadm.k8s.io/v1beta4",
    "KubeletConfiguration": "kubelet.config.k8s.io/v1beta1",
    "KubeProxyConfiguration": "kubeproxy.config.k8s.io/v1alpha1",
}
SAMPLE_SANS = [
    "10.31.90.0",
    "k8s-calico-apiserver.tinychen.io",
    "10.31.90.1",
    CP1,
    CP1 + ".tinychen.io",
    "10.31.90.2",
    CP2,
    CP2 + ".tinychen.io",
    "10.31.90.3",
    CP3,
    CP3 + ".tinychen.io",
]

_loader = DataLoader()


def _load(path):
    return _loader.load_from_file(path, trusted_as_template=True) or {}


def _sample_inventory():
    """hosts.yml as {group: [hosts]} and {host: host vars}."""
    inventory = yaml.safe_load(open(os.path.join(SAMPLE, "hosts.yml")))
    groups, hostvars = {}, {}

    def walk(name, node):
        node = node or {}
        members = []
        for host, hvars in (node.get("hosts") or {}).items():
            hostvars.setdefault(host, dict(hvars or {}))
            members.append(host)
        for child, sub in (node.get("children") or {}).items():
            members.extend(walk(child, sub))
        # a group listed again under another parent (k8s_cluster) keeps its hosts
        groups[name] = list(dict.fromkeys(groups.get(name, []) + members))
        return groups[name]

    walk("all", inventory["all"])
    return groups, hostvars


def render(host=CP1, overrides=None, control_planes=None):
    """Render the template for ``host``; ``overrides`` act as inventory group_vars."""
    groups, host_only = _sample_inventory()
    if control_planes is not None:
        groups["kube_control_plane"] = control_planes
    group_vars = {}
    for path in sorted(glob.glob(os.path.join(SAMPLE, "group_vars", "all", "*.yml"))):
        group_vars.update(_load(path))
    group_vars.update(overrides or {})
    group_vars["inventory_dir"] = SAMPLE
    defaults = _load(os.path.join(ROLE, "defaults", "main.yml"))
    role_vars = _load(os.path.join(ROLE, "vars", "main.yml"))

    hostvars = {}
    for name, hvars in host_only.items():
        hostvars[name] = dict(group_vars, **hvars, inventory_hostname=name)
    variables = dict(defaults)
    variables.update(hostvars[host])
    variables.update(role_vars)
    variables.update(groups=groups, hostvars=hostvars, inventory_hostname=host)

    templar = Templar(loader=_loader, variables=variables)
    source = open(os.path.join(ROLE, "templates", "kubeadm-config.yaml.j2")).read()
    text = templar.template(trust_as_template(source))
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    return text, docs


def by_kind(docs):
    return {d["kind"]: d for d in docs}


# --- field names from kubeadm's Go types ----------------------------------------------


def unknown_fields(value, schema, path):
    """Paths in ``value`` that the Go type tree ``schema`` does not have."""
    kind = schema.get("type")
    if kind == "any":
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return ["%s: expected a mapping, got %r" % (path, value)]
        bad = []
        for key, sub in value.items():
            if key not in schema["fields"]:
                bad.append("%s.%s" % (path, key))
            else:
                bad.extend(unknown_fields(sub, schema["fields"][key], "%s.%s" % (path, key)))
        return bad
    if kind == "array":
        if not isinstance(value, list):
            return ["%s: expected a list, got %r" % (path, value)]
        return [b for i, item in enumerate(value) for b in unknown_fields(item, schema["items"], "%s[%d]" % (path, i))]
    if kind == "map":
        if not isinstance(value, dict):
            return ["%s: expected a mapping, got %r" % (path, value)]
        return [b for k, v in value.items() for b in unknown_fields(v, schema["values"], "%s.%s" % (path, k))]
    # scalars: kubeadm's decoder accepts strings for durations and quantities
    expected = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,)}[kind]
    if isinstance(value, bool) and kind != "boolean":
        return ["%s: expected %s, got %r" % (path, kind, value)]
    if not isinstance(value, expected):
        return ["%s: expected %s, got %r" % (path, kind, value)]
    return []


def check_against_go_types(docs, field_file):
    fields = json.load(open(field_file))
    problems = []
    for doc in docs:
        key = "%s/%s" % (doc["apiVersion"], doc["kind"])
        assert key in fields["kinds"], "%s is not a kind of %s" % (key, field_file)
        problems.extend(unknown_fields(doc, fields["kinds"][key], doc["kind"]))
    return problems


# --- the sample inventory (seed 004) ----------------------------------------------------


def test_sample_renders_four_documents_in_order():
    docs = render()[1]
    assert [d["kind"] for d in docs] == KINDS
    for doc in docs:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]]


def test_sample_init_configuration():
    docs = render()[1]
    init = by_kind(docs)["InitConfiguration"]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.31.90.1", "bindPort": 6443}
    assert init["nodeRegistration"]["name"] == CP1
    assert init["nodeRegistration"]["criSocket"] == "unix:///run/containerd/containerd.sock"
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "10.31.90.1"}]
    # no bootstrap token in the file: kubeadm_token hands them out
    assert "bootstrapTokens" not in init


def test_sample_cluster_configuration_matches_seed_004():
    docs = render()[1]
    cluster = by_kind(docs)["ClusterConfiguration"]
    assert cluster["kubernetesVersion"] == "v1.36.3"
    assert cluster["controlPlaneEndpoint"] == "10.31.90.0:8443"
    assert cluster["imageRepository"] == "registry.aliyuncs.com/google_containers"
    assert cluster["clusterName"] == "kubernetes"
    assert cluster["networking"] == {
        "dnsDomain": "cali-cluster.tclocal",
        "podSubnet": "10.33.0.0/17",
        "serviceSubnet": "10.33.128.0/18",
    }
    assert cluster["apiServer"] == {"certSANs": SAMPLE_SANS}
    assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}
    assert "certificateValidityPeriod" not in cluster
    assert "caCertificateValidityPeriod" not in cluster


def test_sample_kubelet_and_kube_proxy():
    docs = render()[1]
    kinds = by_kind(docs)
    assert kinds["KubeletConfiguration"] == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
    }
    proxy = kinds["KubeProxyConfiguration"]
    assert proxy["mode"] == "ipvs"
    assert proxy["ipvs"] == {"scheduler": "rr", "strictARP": False}


def test_other_control_plane_advertises_its_own_address():
    docs = render(host=CP2)[1]
    kinds = by_kind(docs)
    assert kinds["InitConfiguration"]["localAPIEndpoint"]["advertiseAddress"] == "10.31.90.2"
    assert kinds["InitConfiguration"]["nodeRegistration"]["name"] == CP2
    assert kinds["ClusterConfiguration"]["apiServer"]["certSANs"] == SAMPLE_SANS


def test_node_ip_overrides_ansible_host():
    docs = render(overrides={"hakube_node_ip": "10.40.0.1"})[1]
    kinds = by_kind(docs)
    init = kinds["InitConfiguration"]
    assert init["localAPIEndpoint"]["advertiseAddress"] == "10.40.0.1"
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "10.40.0.1"}]
    # group-wide override: every control plane has that address, listed once
    assert kinds["ClusterConfiguration"]["apiServer"]["certSANs"].count("10.40.0.1") == 1


def test_the_file_is_plain_yaml_without_jinja_leftovers():
    text = render()[0]
    assert "{{" not in text and "{%" not in text
    assert text.startswith("---\n# Managed by hakube.cluster.control_plane")


# --- load balancer modes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, control_planes, endpoint, must_have, must_not_have",
    [
        ({"hakube_apiserver_lb_mode": "keepalived_haproxy"}, None, "10.31.90.0:8443",
         ["10.31.90.0", "k8s-calico-apiserver.tinychen.io"], ["127.0.0.1"]),
        ({"hakube_apiserver_lb_mode": "external", "hakube_apiserver_vip": "10.31.80.10",
          "hakube_apiserver_vip_hostname": "api.example.org", "hakube_apiserver_lb_port": 443},
         None, "10.31.80.10:443", ["10.31.80.10", "api.example.org"], ["10.31.90.0"]),
        ({"hakube_apiserver_lb_mode": "haproxy_local"}, None, "127.0.0.1:8443",
         ["127.0.0.1", "localhost"], ["10.31.90.0"]),
        ({"hakube_apiserver_lb_mode": "none"}, [CP1], "10.31.90.1:6443",
         ["10.31.90.1", CP1], ["10.31.90.0", "k8s-calico-apiserver.tinychen.io", "10.31.90.2"]),
    ],
    ids=["keepalived_haproxy", "external", "haproxy_local", "none"],
)
def test_control_plane_endpoint_per_lb_mode(overrides, control_planes, endpoint, must_have, must_not_have):
    docs = render(overrides=overrides, control_planes=control_planes)[1]
    cluster = by_kind(docs)["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"] == endpoint
    sans = cluster["apiServer"]["certSANs"]
    for name in must_have:
        assert name in sans
    for name in must_not_have:
        assert name not in sans
    assert len(sans) == len(set(sans))


def test_ipv6_vip_is_bracketed():
    docs = render(overrides={"hakube_apiserver_vip": "fd00::10"})[1]
    cluster = by_kind(docs)["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"] == "[fd00::10]:8443"
    assert "fd00::10" in cluster["apiServer"]["certSANs"]


def test_without_host_domain_only_short_names():
    docs = render(overrides={"hakube_host_domain": ""})[1]
    sans = by_kind(docs)["ClusterConfiguration"]["apiServer"]["certSANs"]
    assert CP1 in sans
    assert not [s for s in sans if s.endswith(".tinychen.io") and s.startswith("k8s-calico-master")]


# --- kube-proxy modes and runtimes ------------------------------------------------------


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_kube_proxy_modes_without_ipvs(mode):
    docs = render(overrides={"hakube_kube_proxy_mode": mode})[1]
    proxy = by_kind(docs)["KubeProxyConfiguration"]
    assert proxy == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": mode,
    }


def test_ipvs_scheduler_and_strict_arp():
    _text, docs = render(overrides={"control_plane_kube_proxy_ipvs_scheduler": "lc",
                                    "control_plane_kube_proxy_ipvs_strict_arp": True})
    assert by_kind(docs)["KubeProxyConfiguration"]["ipvs"] == {"scheduler": "lc", "strictARP": True}


@pytest.mark.parametrize(
    "runtime, socket",
    [("containerd", "unix:///run/containerd/containerd.sock"), ("docker", "unix:///var/run/cri-dockerd.sock")],
)
def test_cri_socket_per_runtime(runtime, socket):
    docs = render(overrides={"hakube_container_runtime": runtime})[1]
    assert by_kind(docs)["InitConfiguration"]["nodeRegistration"]["criSocket"] == socket
    assert by_kind(docs)["KubeletConfiguration"]["cgroupDriver"] == "systemd"


# --- optional settings ------------------------------------------------------------------


def test_certificate_validity_periods():
    _text, docs = render(overrides={"control_plane_certificate_validity_period": "87600h",
                                    "control_plane_ca_certificate_validity_period": "175200h"})
    cluster = by_kind(docs)["ClusterConfiguration"]
    assert cluster["certificateValidityPeriod"] == "87600h"
    assert cluster["caCertificateValidityPeriod"] == "175200h"


def test_certificate_validity_needs_kubeadm_1_31():
    _text, docs = render(overrides={"hakube_kubernetes_version": "1.30.5",
                                    "control_plane_certificate_validity_period": "87600h"})
    cluster = by_kind(docs)["ClusterConfiguration"]
    assert cluster["kubernetesVersion"] == "v1.30.5"
    assert "certificateValidityPeriod" not in cluster


def test_version_with_leading_v_is_not_doubled():
    docs = render(overrides={"hakube_kubernetes_version": "v1.35.2"})[1]
    assert by_kind(docs)["ClusterConfiguration"]["kubernetesVersion"] == "v1.35.2"


def test_extra_args_sans_and_config_extra():
    _text, docs = render(overrides={
        "control_plane_apiserver_extra_args": [{"name": "audit-log-maxage", "value": "30"}],
        "control_plane_controller_manager_extra_args": [{"name": "bind-address", "value": "0.0.0.0"}],
        "control_plane_scheduler_extra_args": [{"name": "bind-address", "value": "0.0.0.0"}],
        "control_plane_apiserver_extra_sans": ["api.internal", "10.31.90.1"],
        "control_plane_etcd_data_dir": "/data/etcd",
        "control_plane_kubeadm_config_extra": {
            "KubeletConfiguration": {"maxPods": 200},
            "ClusterConfiguration": {"networking": {"dnsDomain": "other.local"}},
        },
    })
    kinds = by_kind(docs)
    cluster = kinds["ClusterConfiguration"]
    assert cluster["apiServer"]["extraArgs"] == [{"name": "audit-log-maxage", "value": "30"}]
    assert cluster["controllerManager"] == {"extraArgs": [{"name": "bind-address", "value": "0.0.0.0"}]}
    assert cluster["scheduler"] == {"extraArgs": [{"name": "bind-address", "value": "0.0.0.0"}]}
    assert cluster["apiServer"]["certSANs"] == SAMPLE_SANS + ["api.internal"]
    assert cluster["etcd"]["local"]["dataDir"] == "/data/etcd"
    # deep merge keeps the siblings of what the extra sets
    assert cluster["networking"] == {"dnsDomain": "other.local", "podSubnet": "10.33.0.0/17",
                                     "serviceSubnet": "10.33.128.0/18"}
    assert kinds["KubeletConfiguration"]["maxPods"] == 200
    assert kinds["KubeletConfiguration"]["cgroupDriver"] == "systemd"


# --- every rendered key exists in kubeadm's / kubelet's / kube-proxy's Go types ---------

RENDER_CASES = {
    "sample": {},
    "haproxy_local": {"hakube_apiserver_lb_mode": "haproxy_local"},
    "external": {"hakube_apiserver_lb_mode": "external"},
    "iptables": {"hakube_kube_proxy_mode": "iptables"},
    "nftables": {"hakube_kube_proxy_mode": "nftables"},
    "docker": {"hakube_container_runtime": "docker"},
    "everything": {
        "control_plane_certificate_validity_period": "8760h",
        "control_plane_ca_certificate_validity_period": "87600h",
        "control_plane_kube_proxy_ipvs_strict_arp": True,
        "control_plane_apiserver_extra_args": [{"name": "audit-log-maxage", "value": "30"}],
        "control_plane_controller_manager_extra_args": [{"name": "bind-address", "value": "0.0.0.0"}],
        "control_plane_scheduler_extra_args": [{"name": "bind-address", "value": "0.0.0.0"}],
        "control_plane_kubeadm_config_extra": {"KubeletConfiguration": {"maxPods": 200}},
    },
}


def test_field_fixtures_exist_for_the_default_version():
    assert FIELD_FILES, "no tests/fixtures/kubeadm/v1beta4-fields-*.json"
    hakube = _load(os.path.join(SAMPLE, "group_vars", "all", "hakube.yml"))
    versions = [json.load(open(f))["source"]["k8s.io/kubernetes"] for f in FIELD_FILES]
    assert "v" + hakube["hakube_kubernetes_version"] in versions
    for field_file, version in zip(FIELD_FILES, versions):
        assert os.path.basename(field_file) == "v1beta4-fields-%s.json" % version.lstrip("v")


@pytest.mark.parametrize("field_file", FIELD_FILES, ids=[os.path.basename(f) for f in FIELD_FILES])
@pytest.mark.parametrize("case", sorted(RENDER_CASES))
def test_every_rendered_field_exists_in_the_go_types(case, field_file):
    docs = render(overrides=copy.deepcopy(RENDER_CASES[case]))[1]
    assert check_against_go_types(docs, field_file) == []


@pytest.mark.parametrize("field_file", FIELD_FILES, ids=[os.path.basename(f) for f in FIELD_FILES])
def test_a_misspelled_field_is_caught(field_file):
    """The field check must be able to fail: misspell a few fields through the extras."""
    _text, docs = render(overrides={"control_plane_kubeadm_config_extra": {
        "ClusterConfiguration": {"controlPlaneEndPoint": "x:1", "networking": {"podCIDR": "10.0.0.0/8"}},
        "KubeletConfiguration": {"cgroupsDriver": "systemd"},
        "KubeProxyConfiguration": {"ipvs": {"strictArp": True}},
        "InitConfiguration": {"nodeRegistration": {"kubeletExtraArgs": [{"name": "a", "valeu": "b"}]}},
    }})
    assert sorted(check_against_go_types(docs, field_file)) == sorted([
        "ClusterConfiguration.controlPlaneEndPoint",
        "ClusterConfiguration.networking.podCIDR",
        "KubeletConfiguration.cgroupsDriver",
        "KubeProxyConfiguration.ipvs.strictArp",
        "InitConfiguration.nodeRegistration.kubeletExtraArgs[0].valeu",
    ])


def test_a_wrong_shape_is_caught():
    fields = json.load(open(FIELD_FILES[0]))
    cluster = fields["kinds"]["kubeadm.k8s.io/v1beta4/ClusterConfiguration"]
    assert unknown_fields({"apiServer": {"certSANs": "10.0.0.1"}}, cluster, "C") == [
        "C.apiServer.certSANs: expected a list, got '10.0.0.1'"]
    assert unknown_fields({"apiServer": {"extraArgs": {"a": "b"}}}, cluster, "C") == [
        "C.apiServer.extraArgs: expected a list, got {'a': 'b'}"]


# --- what kubeadm itself says ---------------------------------------------------------


def test_every_document_has_a_kind_as_kubeadm_splits_them():
    """kubeadm splits on '---' lines and rejects a document without kind (a comment-only
    header before the first '---' breaks `kubeadm init`)."""
    text = render()[0]
    chunks = [c for c in "\n".join(text.splitlines()).split("\n---\n") if c.strip() not in ("", "---")]
    assert len(chunks) == 4
    for chunk in chunks:
        doc = yaml.safe_load(chunk)
        assert isinstance(doc, dict) and doc.get("kind") and doc.get("apiVersion"), chunk


def _find_kubeadm():
    found = os.environ.get("HAKUBE_KUBEADM") or shutil.which("kubeadm")
    if not found:
        # where tests/bundle/build-from-source leaves its kubeadm
        built = sorted(glob.glob("/var/cache/hakube/bundle/*/bin/kubeadm"))
        found = built[-1] if built else None
    return found


KUBEADM = _find_kubeadm()


@pytest.mark.skipif(not KUBEADM, reason="no kubeadm binary (set HAKUBE_KUBEADM)")
@pytest.mark.parametrize("case", sorted(RENDER_CASES))
def test_kubeadm_config_validate_accepts_the_file(case, tmp_path):
    text = render(overrides=copy.deepcopy(RENDER_CASES[case]))[0]
    path = tmp_path / "kubeadm-config.yaml"
    path.write_text(text)
    proc = subprocess.run([KUBEADM, "config", "validate", "--config", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not KUBEADM, reason="no kubeadm binary (set HAKUBE_KUBEADM)")
def test_kubeadm_config_validate_rejects_a_misspelled_field(tmp_path):
    text, _docs = render(overrides={"control_plane_kubeadm_config_extra": {
        "ClusterConfiguration": {"controlPlaneEndPoint": "x:1"}}})
    path = tmp_path / "kubeadm-config.yaml"
    path.write_text(text)
    proc = subprocess.run([KUBEADM, "config", "validate", "--config", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert 'unknown field "controlPlaneEndPoint"' in proc.stderr


def test_cgroup_v1_opt_in_renders_fail_cgroup_v1_false():
    kubelet = by_kind(render()[1])["KubeletConfiguration"]
    assert "failCgroupV1" not in kubelet
    kubelet = by_kind(render(overrides={"hakube_allow_cgroup_v1": True})[1])["KubeletConfiguration"]
    assert kubelet["failCgroupV1"] is False
    assert kubelet["cgroupDriver"] == "systemd"
