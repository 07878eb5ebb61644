"""Render the resources of roles/purelb the way Ansible does and validate them.

Same approach as test_calico_crs.py: role defaults < inventory group_vars < role vars,
templated with ansible-core's Templar; the ServiceGroups are validated against
tests/fixtures/crds/purelb.io_servicegroups.yaml with unknown fields rejected.
"""
import os

import jsonschema
import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from test_calico_crs import FORMATS, _strict  # pylint: disable=import-error

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(TOP, "roles", "purelb")
SAMPLE = os.path.join(TOP, "inventories", "sample", "group_vars", "all")
CRDS = os.path.join(TOP, "tests", "fixtures", "crds")

_loader = DataLoader()


def _load(path):
    return _loader.load_from_file(path, trusted_as_template=True) or {}


def _trust(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trust(v) for v in value]
    return value


def _variables(overrides=None, sample=True, extra=None):
    variables = {}
    variables.update(_load(os.path.join(ROLE, "defaults", "main.yml")))
    variables.update(_load(os.path.join(SAMPLE, "hakube.yml")))
    if sample:
        variables.update(_load(os.path.join(SAMPLE, "purelb.yml")))
    variables.update(_trust(overrides or {}))
    variables.update(_load(os.path.join(ROLE, "vars", "main.yml")))
    variables.update(groups={"kube_control_plane": ["k8s-calico-master-10-31-90-1"]},
                     inventory_dir=os.path.join(TOP, "inventories", "sample"))
    variables.update(extra or {})
    return variables


def render(names, overrides=None, sample=True, extra=None):
    variables = _variables(overrides, sample, extra)
    templar = Templar(loader=_loader, variables=variables)
    return {name: templar.template(variables[name]) for name in names}


def validate(obj):
    with open(os.path.join(CRDS, "purelb.io_servicegroups.yaml")) as handle:
        schema = _strict(yaml.safe_load(handle)["openAPIV3Schema"])
    jsonschema.Draft7Validator(schema, format_checker=FORMATS).validate(obj)


def test_sample_service_group_is_seed_004():
    crs = render(["purelb_service_group_crs"])["purelb_service_group_crs"]
    assert len(crs) == 1
    validate(crs[0])
    assert crs[0] == {
        "apiVersion": "purelb.io/v2",
        "kind": "ServiceGroup",
        "metadata": {"name": "bgp-ippool", "namespace": "purelb-system",
                     "labels": {"hakube.io/managed-by": "hakube"}},
        "spec": {"remote": {"v4pool": {"subnet": "10.33.192.0/18", "pool": "10.33.192.0-10.33.255.254",
                                       "aggregation": "/32"}}},
    }


@pytest.mark.parametrize("cidr, expected", [
    ("10.33.192.0/18", "10.33.192.0-10.33.255.254"),
    ("192.168.1.0/24", "192.168.1.0-192.168.1.254"),
    ("192.168.1.77/24", "192.168.1.0-192.168.1.254"),
    ("10.0.0.0/31", "10.0.0.0-10.0.0.1"),
    ("10.0.0.5/32", "10.0.0.5-10.0.0.5"),
])
def test_default_group_covers_the_loadbalancer_cidr(cidr, expected):
    out = render(["purelb_default_pool_range", "purelb_service_group_crs"], sample=False,
                 extra={"hakube_loadbalancer_cidr": cidr})
    assert out["purelb_default_pool_range"] == expected
    cr = out["purelb_service_group_crs"][0]
    assert cr["metadata"]["name"] == "default"
    assert cr["spec"]["remote"]["v4pool"] == {"subnet": cidr, "pool": expected, "aggregation": "/32"}
    validate(cr)


def test_manifest_names_follow_the_release_layout():
    out = render(["purelb_manifests", "purelb_manifest_base_url"], sample=False)
    assert out["purelb_manifests"] == ["install-crds-nobgp-v0.16.6.yaml", "install-nobgp-v0.16.6.yaml"]
    assert out["purelb_manifest_base_url"] == "https://github.com/purelb/purelb/releases/download/v0.16.6"
    out = render(["purelb_manifests"], {"purelb_bgp_speaker": True, "purelb_version": "v0.17.0"})
    assert out["purelb_manifests"] == ["install-crds-v0.17.0.yaml", "install-v0.17.0.yaml"]


def test_owner_selectors():
    out = render(["purelb_owner_selectors"], {"purelb_owner_label": {"a": "b", "c": "d"}})
    assert out["purelb_owner_selectors"] == ["a=b", "c=d"]


def test_misspelled_service_group_field_fails():
    out = render(["purelb_service_group_crs"], {"purelb_service_groups": [
        {"name": "x", "remote": {"v4pool": {"subnet": "10.0.0.0/24", "pool": "10.0.0.0/25", "agregation": "/32"}}}]})
    with pytest.raises(jsonschema.ValidationError, match="agregation"):
        validate(out["purelb_service_group_crs"][0])
    out = render(["purelb_service_group_crs"], {"purelb_service_groups": [
        {"name": "x", "remote": {"v4Pool": {"subnet": "10.0.0.0/24", "pool": "10.0.0.0/25"}}}]})
    with pytest.raises(jsonschema.ValidationError, match="v4Pool"):
        validate(out["purelb_service_group_crs"][0])


def test_service_group_needs_exactly_one_kind_and_valid_aggregation():
    base = {"subnet": "10.0.0.0/24", "pool": "10.0.0.0/25"}
    out = render(["purelb_service_group_crs"], {"purelb_service_groups": [
        {"name": "two", "local": {"v4pool": base}, "remote": {"v4pool": base}}]})
    with pytest.raises(jsonschema.ValidationError):
        validate(out["purelb_service_group_crs"][0])
    out = render(["purelb_service_group_crs"], {"purelb_service_groups": [
        {"name": "agg", "remote": {"v4pool": dict(base, aggregation="32")}}]})
    with pytest.raises(jsonschema.ValidationError, match="32"):
        validate(out["purelb_service_group_crs"][0])
    out = render(["purelb_service_group_crs"], {"purelb_service_groups": [
        {"name": "ok", "local": {"v4pools": [base, dict(base, aggregation="default")]},
         "namespaces": ["web"], "namespaceDefault": True}]})
    validate(out["purelb_service_group_crs"][0])


@pytest.mark.parametrize("address, pools, inside", [
    ("10.33.192.0", ["10.33.192.0-10.33.255.254"], True),
    ("10.33.255.254", ["10.33.192.0-10.33.255.254"], True),
    ("10.33.255.255", ["10.33.192.0-10.33.255.254"], False),
    ("10.34.0.1", ["10.33.192.0-10.33.255.254"], False),
    ("192.168.1.243", ["192.168.1.240/29"], True),
    ("192.168.1.248", ["192.168.1.240/29"], False),
    ("192.168.1.248", ["192.168.1.240/29", "192.168.1.248-192.168.1.250"], True),
])
def test_smoke_address_check(address, pools, inside):
    out = render(["purelb_smoke_address_in_pool"],
                 extra={"purelb_smoke_address": address, "purelb_smoke_pools": pools})
    assert out["purelb_smoke_address_in_pool"] is inside or str(out["purelb_smoke_address_in_pool"]) == str(inside)


def test_smoke_pools_and_service():
    out = render(["purelb_smoke_pools", "purelb_smoke_service"])
    assert out["purelb_smoke_pools"] == ["10.33.192.0-10.33.255.254"]
    svc = out["purelb_smoke_service"]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"purelb.io/service-group": "bgp-ippool"}
    out = render(["purelb_smoke_pools"], {"purelb_service_groups": [
        {"name": "a", "local": {"v4pools": [{"pool": "10.0.0.0/29", "subnet": "10.0.0.0/24"}]}},
        {"name": "b", "remote": {"v4pool": {"pool": "10.1.0.0/29", "subnet": "10.1.0.0/24"}}}],
        "purelb_smoke_service_group": "a"})
    assert out["purelb_smoke_pools"] == ["10.0.0.0/29"]


def _argspec():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_sample_values_pass_argument_specs():
    variables = _variables()
    spec = _argspec()
    templar = Templar(loader=_loader, variables=variables)
    values = {k: templar.template(variables[k]) for k in spec if k in variables}
    assert ArgumentSpecValidator(spec).validate(values).error_messages == []
    bad = dict(values, purelb_service_groups=[{"name": "x"}])
    assert ArgumentSpecValidator(spec).validate(bad).error_messages
    bad = dict(values, purelb_service_groups=[{"name": "x", "local": {}, "remote": {}}])
    assert ArgumentSpecValidator(spec).validate(bad).error_messages
    bad = dict(values, purelb_service_groups=[{"name": "x", "remot": {}}])
    assert ArgumentSpecValidator(spec).validate(bad).error_messages


def test_sources_follow_hakube_bundle_dir():
    assert render(["purelb_source"])["purelb_source"] == "url"
    out = render(["purelb_source", "purelb_bundle_dir"], extra={"hakube_bundle_dir": "/srv/bundle"})
    assert out == {"purelb_source": "bundle", "purelb_bundle_dir": "/srv/bundle"}
