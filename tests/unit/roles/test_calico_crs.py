"""Render the resources of roles/calico the way Ansible does and validate them.

The variables a play would see (role defaults < inventory group_vars < role vars) are
templated with ansible-core's Templar for the sample inventory (seed 004) and for other
settings. Every rendered projectcalico.org/v3 resource is validated against the CRD
schema in tests/fixtures/crds/ (see the README there for sources and versions) with
unknown fields rejected, as the apiserver's strict field validation does, so a
misspelled field fails here and not on a cluster.
"""
import copy
import ipaddress
import os

import jsonschema
import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(TOP, "roles", "calico")
SAMPLE = os.path.join(TOP, "inventories", "sample", "group_vars", "all")
CRDS = os.path.join(TOP, "tests", "fixtures", "crds")

_loader = DataLoader()


def _load(path):
    return _loader.load_from_file(path, trusted_as_template=True) or {}


def render(overrides=None, sample=True, names=None, extra_vars=None):
    """Templated role variables for one play on the first control plane."""
    variables = {}
    variables.update(_load(os.path.join(ROLE, "defaults", "main.yml")))
    variables.update(_load(os.path.join(SAMPLE, "hakube.yml")))
    if sample:
        variables.update(_load(os.path.join(SAMPLE, "calico.yml")))
    if overrides:
        variables.update(_load_overrides(overrides))
    variables.update(_load(os.path.join(ROLE, "vars", "main.yml")))
    variables.update(
        inventory_dir=os.path.join(TOP, "inventories", "sample"),
        inventory_hostname="k8s-calico-master-10-31-90-1",
        groups={
            "all": ["k8s-calico-master-10-31-90-%d" % i for i in (1, 2, 3)]
            + ["k8s-calico-worker-10-31-90-%d" % i for i in (4, 5, 6)],
            "kube_control_plane": ["k8s-calico-master-10-31-90-%d" % i for i in (1, 2, 3)],
        },
        ansible_facts={"architecture": "x86_64"},
    )
    variables.update(extra_vars or {})
    templar = Templar(loader=_loader, variables=variables)
    names = names or [
        "calico_installation_cr",
        "calico_apiserver_cr",
        "calico_bgp_configuration_cr",
        "calico_bgp_peer_crs",
        "calico_owner_selector",
        "calico_route_reflector_selector",
    ]
    return {name: templar.template(variables[name]) for name in names}


def _load_overrides(overrides):
    """Values as an inventory file would give them: strings are trusted templates."""
    def trust(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        if isinstance(value, list):
            return [trust(v) for v in value]
        return value
    return trust(overrides)


# ---------------------------------------------------------------- schema helpers

def _strict(schema):
    """A copy of a structural schema that rejects unknown properties: additionalProperties
    false wherever properties are listed and unknown fields are not preserved. Go (RE2)
    patterns put inline flags anywhere, e.g. ^(?i)(Info|Debug)$; Python wants them first."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and "(?i)" in pattern:
                node["pattern"] = "(?i)" + pattern.replace("(?i)", "")
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("cidr", raises=ValueError)
def _is_cidr(value):
    ipaddress.ip_network(value, strict=False)
    return True


@FORMATS.checks("int32")
def _is_int32(value):
    return not isinstance(value, int) or -2 ** 31 <= value < 2 ** 31


def crd_schema(filename):
    path = os.path.join(CRDS, filename)
    if not os.path.exists(path):
        pytest.skip("CRD schema %s is not checked in (see tests/fixtures/crds/README.md)" % filename)
    with open(path) as handle:
        return _strict(yaml.safe_load(handle)["openAPIV3Schema"])


def validate(obj, filename):
    jsonschema.Draft7Validator(crd_schema(filename), format_checker=FORMATS).validate(obj)


BGPCONFIG = "projectcalico.org_bgpconfigurations.yaml"
BGPPEER = "projectcalico.org_bgppeers.yaml"
INSTALLATION = "operator.tigera.io_installations.yaml"
APISERVER = "operator.tigera.io_apiservers.yaml"


# ---------------------------------------------------------------- seed 004

def test_sample_bgp_configuration_is_seed_004():
    cr = render()["calico_bgp_configuration_cr"]
    validate(cr, BGPCONFIG)
    assert cr == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": {
            "logSeverityScreen": "Info",
            "nodeToNodeMeshEnabled": False,
            "asNumber": 64517,
            "serviceClusterIPs": [{"cidr": "10.33.128.0/18"}],
            "serviceExternalIPs": [{"cidr": "10.33.192.0/18"}],
            "listenPort": 179,
            "bindMode": "NodeIP",
            "communities": [{"name": "bgp-large-community", "value": "64517:300:100"}],
            "prefixAdvertisements": [
                {"cidr": "10.33.0.0/17", "communities": ["bgp-large-community", "64517:120"]}],
        },
    }


def test_sample_bgp_peers_are_seed_004():
    crs = render()["calico_bgp_peer_crs"]
    for cr in crs:
        validate(cr, BGPPEER)
    assert [(c["metadata"]["name"], c["spec"]) for c in crs] == [
        ("openwrt-peer", {"peerIP": "10.31.254.253", "keepOriginalNextHop": True, "asNumber": 64512}),
        ("tiny-unraid-peer", {"peerIP": "10.31.100.100", "keepOriginalNextHop": True, "asNumber": 64516}),
    ]
    assert all(c["metadata"]["labels"] == {"hakube.io/managed-by": "hakube"} for c in crs)


def test_sample_installation_is_seed_004():
    cr = render()["calico_installation_cr"]
    assert cr["apiVersion"] == "operator.tigera.io/v1"
    assert cr["metadata"] == {"name": "default"}
    assert cr["spec"] == {
        "calicoNetwork": {
            "bgp": "Enabled",
            "ipPools": [{"name": "default-ipv4-ippool", "cidr": "10.33.0.0/17", "blockSize": 24,
                         "encapsulation": "VXLANCrossSubnet", "natOutgoing": "Enabled",
                         "nodeSelector": "all()"}],
            "nodeAddressAutodetectionV4": {"kubernetes": "NodeInternalIP"},
        }
    }


def test_installation_and_apiserver_against_operator_crds():
    out = render()
    validate(out["calico_installation_cr"], INSTALLATION)
    validate(out["calico_apiserver_cr"], APISERVER)


def test_role_defaults_render_and_validate():
    out = render(sample=False)
    validate(out["calico_bgp_configuration_cr"], BGPCONFIG)
    spec = out["calico_bgp_configuration_cr"]["spec"]
    assert spec["serviceLoadBalancerIPs"] == [{"cidr": "10.33.192.0/18"}]
    assert spec["serviceClusterIPs"] == [{"cidr": "10.33.128.0/18"}]
    assert "serviceExternalIPs" not in spec and "communities" not in spec
    assert spec["nodeToNodeMeshEnabled"] is True
    assert out["calico_bgp_peer_crs"] == []
    pools = out["calico_installation_cr"]["spec"]["calicoNetwork"]["ipPools"]
    assert pools[0]["cidr"] == "10.33.0.0/17" and pools[0]["blockSize"] == 26


def test_registry_mtu_and_extra_reach_installation():
    out = render({"calico_registry": "registry.example.com", "calico_image_path": "calico",
                  "calico_mtu": 1450, "calico_bgp_enabled": False,
                  "calico_installation_extra": {"calicoNetwork": {"linuxDataplane": "Iptables"}}})
    spec = out["calico_installation_cr"]["spec"]
    assert spec["registry"] == "registry.example.com" and spec["imagePath"] == "calico"
    assert spec["calicoNetwork"]["mtu"] == 1450
    assert spec["calicoNetwork"]["bgp"] == "Disabled"
    assert spec["calicoNetwork"]["linuxDataplane"] == "Iptables"
    assert spec["calicoNetwork"]["ipPools"][0]["cidr"] == "10.33.0.0/17"
    validate(out["calico_installation_cr"], INSTALLATION)


# ---------------------------------------------------------------- peers and reflectors

def test_per_node_peer_with_password_and_selector():
    out = render({"calico_bgp_peers": [
        {"name": "rack1-tor", "peerIP": "10.31.1.1", "asNumber": 65001, "nodeSelector": "rack == 'r1'",
         "password": {"secretKeyRef": {"name": "bgp-secrets", "key": "rack1"}}},
        {"name": "one-node", "peerIP": "10.31.1.2:1179", "asNumber": 65002, "node": "k8s-calico-worker-10-31-90-4",
         "nextHopMode": "Keep"},
    ]})
    crs = out["calico_bgp_peer_crs"]
    for cr in crs:
        validate(cr, BGPPEER)
    assert crs[0]["spec"]["password"] == {"secretKeyRef": {"name": "bgp-secrets", "key": "rack1"}}
    assert crs[1]["spec"]["node"] == "k8s-calico-worker-10-31-90-4"


def test_route_reflectors_add_selector_peer():
    out = render({"calico_route_reflectors": ["k8s-calico-master-10-31-90-1"]})
    crs = out["calico_bgp_peer_crs"]
    rr = [c for c in crs if c["metadata"]["name"] == "hakube-peer-with-route-reflectors"]
    assert rr and rr[0]["spec"] == {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"}
    validate(rr[0], BGPPEER)
    assert out["calico_route_reflector_selector"] == "route-reflector == 'true'"


def test_owner_selector_has_calico_syntax():
    out = render({"calico_owner_label": {"hakube.io/managed-by": "hakube", "team": "net"}})
    assert out["calico_owner_selector"] == "hakube.io/managed-by == 'hakube' && team == 'net'"


# ---------------------------------------------------------------- misspellings fail

def test_strict_schema_rejects_misspelled_bgp_configuration_field():
    out = render({"calico_bgp_configuration_extra": {"nodeToNodeMeshEnable": False}})
    with pytest.raises(jsonschema.ValidationError, match="nodeToNodeMeshEnable"):
        validate(out["calico_bgp_configuration_cr"], BGPCONFIG)


def test_strict_schema_rejects_misspelled_peer_field():
    out = render({"calico_bgp_peers": [{"name": "typo", "peerIp": "10.0.0.1", "asNumber": 65000}]})
    with pytest.raises(jsonschema.ValidationError, match="peerIp"):
        validate(out["calico_bgp_peer_crs"][0], BGPPEER)


@pytest.mark.parametrize("extra, field", [
    ({"registy": "registry.example.com"}, "registy"),
    ({"calicoNetwork": {"nodeAddressAutodetectionv4": {"kubernetes": "NodeInternalIP"}}},
     "nodeAddressAutodetectionv4"),
    ({"calicoNetwork": {"linuxDataplane": "Nftable"}}, "Nftable"),
])
def test_strict_schema_rejects_misspelled_installation_field(extra, field):
    out = render({"calico_installation_extra": extra})
    with pytest.raises(jsonschema.ValidationError, match=field):
        validate(out["calico_installation_cr"], INSTALLATION)


def test_strict_schema_rejects_misspelled_ip_pool_field():
    out = render({"calico_ip_pools": [{"name": "p", "cidr": "10.33.0.0/17", "natOutgoing": "Enabled",
                                       "blocksize": 26}]})
    with pytest.raises(jsonschema.ValidationError, match="blocksize"):
        validate(out["calico_installation_cr"], INSTALLATION)


def test_schema_rejects_nested_misspelling_and_bad_values():
    out = render({"calico_bgp_prefix_advertisements": [{"cidr": "10.33.0.0/17", "community": ["x"]}]})
    with pytest.raises(jsonschema.ValidationError, match="community"):
        validate(out["calico_bgp_configuration_cr"], BGPCONFIG)
    out = render({"calico_bgp_bind_mode": "Any"})
    with pytest.raises(jsonschema.ValidationError, match="Any"):
        validate(out["calico_bgp_configuration_cr"], BGPCONFIG)
    out = render({"calico_bgp_communities": [{"name": "c", "value": "65000-1"}]})
    with pytest.raises(jsonschema.ValidationError):
        validate(out["calico_bgp_configuration_cr"], BGPCONFIG)
    out = render({"calico_bgp_service_cluster_ips": ["10.33.128.0/99"]})
    with pytest.raises(jsonschema.ValidationError):
        validate(out["calico_bgp_configuration_cr"], BGPCONFIG)


def test_strict_helper_keeps_preserve_unknown_fields_open():
    schema = _strict({"type": "object", "properties": {
        "a": {"type": "object", "properties": {"b": {"type": "string"}}},
        "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}},
        "d": {"type": "object", "additionalProperties": {"type": "string"}}}})
    jsonschema.validate({"c": {"anything": 1}, "d": {"k": "v"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"a": {"bb": "x"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"e": 1}, schema)


# ---------------------------------------------------------------- role checks

def _problems(overrides=None):
    tasks = _load(os.path.join(ROLE, "tasks", "checks.yml"))
    expr = tasks[0]["ansible.builtin.set_fact"]["calico_check_problems"]
    variables = {}
    variables.update(_load(os.path.join(ROLE, "defaults", "main.yml")))
    variables.update(_load(os.path.join(SAMPLE, "hakube.yml")))
    variables.update(_load(os.path.join(SAMPLE, "calico.yml")))
    if overrides:
        variables.update(_load_overrides(overrides))
    variables.update(groups={"all": ["k8s-calico-master-10-31-90-1", "k8s-calico-worker-10-31-90-4"]},
                     inventory_dir="inventories/sample")
    return Templar(loader=_loader, variables=variables).template(expr)


def test_checks_pass_for_the_sample():
    assert _problems() == []


def test_checks_refuse_an_autodetection_cidr_that_holds_the_vip():
    problems = _problems({"calico_node_address_autodetection_v4": {"cidrs": ["10.31.0.0/16"]}})
    assert len(problems) == 1 and "contains the apiserver VIP 10.31.90.0" in problems[0]
    assert _problems({"calico_node_address_autodetection_v4": {"cidrs": ["10.31.91.0/24"]}}) == []
    assert "firstFound" in _problems({"calico_node_address_autodetection_v4": {"firstFound": True}})[0]


def test_checks_refuse_pools_outside_the_pod_network_and_bad_peers():
    problems = _problems({
        "calico_ip_pools": [{"cidr": "10.34.0.0/24"}, {"cidr": "10.33.64.0/18"}, {"cidr": "10.0.0.0/8"}],
        "calico_bgp_peers": [
            {"name": "a", "peerIP": "1.1.1.1", "node": "n", "nodeSelector": "all()"},
            {"name": "a", "keepOriginalNextHop": True, "nextHopMode": "Keep", "peerIP": "1.1.1.2",
             "peerSelector": "x == 'y'"}],
        "calico_route_reflectors": ["not-a-host"],
    })
    text = " | ".join(problems)
    assert "10.34.0.0/24 is not inside" in text and "10.0.0.0/8 is not inside" in text
    assert "10.33.64.0/18" not in text
    assert "unique" in text and "node and nodeSelector" in text
    assert "keepOriginalNextHop and nextHopMode" in text and "peerIP and peerSelector" in text
    assert "not-a-host is not an inventory host" in text


def test_tigerastatus_helpers():
    ts = {"resources": [
        {"metadata": {"name": "calico"}, "status": {"conditions": [
            {"type": "Available", "status": "True", "reason": "AllObjectsAvailable"},
            {"type": "Degraded", "status": "False"}]}},
        {"metadata": {"name": "apiserver"}, "status": {"conditions": [
            {"type": "Progressing", "status": "True"}, {"type": "Available", "status": "False"}]}},
        {"metadata": {"name": "ippools"}},
    ]}
    out = render(names=["calico_tigerastatus_available", "calico_tigerastatus_missing",
                        "calico_tigerastatus_report"], extra_vars={"calico_tigerastatus": ts})
    assert out["calico_tigerastatus_available"] == ["calico"]
    assert out["calico_tigerastatus_missing"] == ["apiserver"]
    assert out["calico_tigerastatus_report"] == (
        "calico: Available; apiserver: Progressing; ippools: no condition true")
    out = render({"calico_apiserver_enabled": False}, names=["calico_tigerastatus_missing"],
                 extra_vars={"calico_tigerastatus": ts})
    assert out["calico_tigerastatus_missing"] == []


# ---------------------------------------------------------------- argument_specs

def _argspec():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_sample_values_pass_argument_specs():
    variables = {}
    variables.update(_load(os.path.join(ROLE, "defaults", "main.yml")))
    variables.update(_load(os.path.join(SAMPLE, "hakube.yml")))
    variables.update(_load(os.path.join(SAMPLE, "calico.yml")))
    variables.update(_load(os.path.join(ROLE, "vars", "main.yml")))
    variables.update(groups={"kube_control_plane": ["k8s-calico-master-10-31-90-1"]},
                     inventory_dir="inventories/sample", ansible_facts={"architecture": "aarch64"})
    spec = _argspec()
    templar = Templar(loader=_loader, variables=variables)
    values = {k: templar.template(variables[k]) for k in spec if k in variables}
    result = ArgumentSpecValidator(spec).validate(values)
    assert result.error_messages == []
    assert values["calico_calicoctl_url"].endswith("/v3.33.1/calicoctl-linux-arm64")
    bad = dict(values, calico_bgp_peers=[{"name": "x", "peerIp": "1.1.1.1"}])
    assert ArgumentSpecValidator(spec).validate(bad).error_messages
    bad = dict(values, calico_ip_pools=[{"cidr": "10.33.0.0/17", "encapsulation": "Vxlan"}])
    assert ArgumentSpecValidator(spec).validate(bad).error_messages


def test_sources_follow_hakube_bundle_dir():
    out = render(names=["calico_source", "calico_bundle_dir"])
    assert out == {"calico_source": "url", "calico_bundle_dir": ""}
    out = render(names=["calico_source", "calico_bundle_dir"], extra_vars={"hakube_bundle_dir": "/srv/bundle"})
    assert out == {"calico_source": "bundle", "calico_bundle_dir": "/srv/bundle"}
    assert "calico_bundle_dir" in " ".join(_problems({"calico_source": "bundle", "calico_bundle_dir": ""}))
