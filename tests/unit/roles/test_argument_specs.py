"""Every role's defaults are validated by its meta/argument_specs.yml, and back.

A default that argument_specs does not list escapes type and choice checks; a
role-prefixed option in argument_specs without a default is documentation of a
variable the role never sets.
"""
import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")


def _yaml(*parts):
    with open(os.path.join(ROLES, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", sorted(os.listdir(ROLES)))
def test_defaults_and_argument_specs_agree(role):
    defaults = _yaml(role, "defaults", "main.yml")
    options = {}
    for entry_point in _yaml(role, "meta", "argument_specs.yml")["argument_specs"].values():
        options.update(entry_point.get("options") or {})
    assert sorted(set(defaults) - set(options)) == []
    assert sorted(k for k in options if k.startswith(role + "_") and k not in defaults) == []
