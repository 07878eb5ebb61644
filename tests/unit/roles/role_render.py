"""Render a role's variables and task files outside a play, with facts of our choosing.

Used by the tests that check code paths this machine cannot run (EL hosts, other
runtimes): the role's defaults and vars are loaded as Ansible would (trusted as
templates, which ansible-core 2.19 requires), the test's facts laid over them.
"""
import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.template import Templar, trust_as_template

# Lookups (file, fileglob) and the collection's filters in role variables need the
# plugin loader, as in a play; tests/unit/conftest.py installs it before any test module
# is imported, and a module run on its own gets it here.
if not AnsibleCollectionConfig.collection_finder:
    init_plugin_loader()

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")


def trust(value):
    """Mark strings (also inside lists and dicts) as templates, as role files are."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trust(v) for v in value]
    if isinstance(value, dict):
        return {k: trust(v) for k, v in value.items()}
    return value


def role_templar(role, variables):
    """A Templar over ROLE's defaults and vars, then ``variables`` on top."""
    merged = {}
    for part in ("defaults", "vars"):
        with open(os.path.join(ROLES, role, part, "main.yml"), encoding="utf-8") as handle:
            merged.update(trust(yaml.safe_load(handle)))
    merged.update(variables)
    return Templar(loader=DataLoader(), variables=merged)


def value(templar, name):
    """The templated value of one variable."""
    return templar.template(templar.available_variables[name])


def role_tasks(role, name):
    """The parsed task list of roles/ROLE/tasks/NAME."""
    with open(os.path.join(ROLES, role, "tasks", name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)
