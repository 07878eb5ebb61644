"""Static checks of roles/control_plane and roles/workers.

- every task that handles a join token or certificate key (or admin.conf's content) has
  no_log: true;
- meta/argument_specs.yml and defaults/main.yml describe the same settings, with the
  same defaults, and every role setting carries the role's prefix.
"""
import os

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = ["control_plane", "workers"]
SECRET_MARKERS = ("kubeadm_token", "_join_token", "certificate_key", "token:", "admin_conf_content")


def load(*parts):
    with open(os.path.join(TOP, *parts)) as f:
        return yaml.safe_load(f)


def tasks(items):
    for task in items or []:
        if "block" in task:
            yield from tasks(task["block"])
            yield from tasks(task.get("rescue"))
            yield from tasks(task.get("always"))
        else:
            yield task


@pytest.mark.parametrize("role", ROLES)
def test_tasks_with_secrets_have_no_log(role):
    found = 0
    for task in tasks(load("roles", role, "tasks", "main.yml")):
        text = yaml.safe_dump(task)
        if any(marker in text for marker in SECRET_MARKERS) and "ansible.builtin.fail" not in task:
            found += 1
            assert task.get("no_log") is True, task["name"]
    assert found >= 2


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load("roles", role, "defaults", "main.yml") or {}
    options = load("roles", role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    prefix = role + "_"
    for name, value in defaults.items():
        assert name.startswith(prefix), name
        assert name in options, "%s is not in meta/argument_specs.yml" % name
        spec = options[name]
        if "{{" not in str(value):
            assert spec.get("default") == value, name
        else:
            assert "default" not in spec, name
    for name, spec in options.items():
        assert name.startswith(prefix) or name.startswith("hakube_"), name
        if name.startswith(prefix):
            assert name in defaults, "%s has no default in defaults/main.yml" % name
        assert spec.get("description"), name


def test_sample_inventory_settings_are_known():
    sample = load("inventories", "sample", "group_vars", "all", "control_plane.yml")
    options = load("roles", "control_plane", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name in sample:
        assert name in options, name


def module_options(module):
    """Option names from the DOCUMENTATION of plugins/modules/<module>.py."""
    import ast

    path = os.path.join(TOP, "plugins", "modules", module + ".py")
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            doc = yaml.safe_load(node.value.value)
            options = set(doc["options"])
            if "ansible.builtin.files" in doc.get("extends_documentation_fragment", []):
                from ansible.plugins.doc_fragments.files import ModuleDocFragment
                options |= set(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
            return options
    raise AssertionError("no DOCUMENTATION in %s" % path)


@pytest.mark.parametrize("role", ROLES)
def test_module_calls_use_documented_options(role):
    """The roles call the real modules only with options their DOCUMENTATION has."""
    calls = 0
    for task in tasks(load("roles", role, "tasks", "main.yml")):
        for key, args in task.items():
            if key.startswith("hakube.cluster."):
                calls += 1
                module = key.split(".")[-1]
                unknown = set(args) - module_options(module)
                assert not unknown, "%s: %s has no option %s" % (task["name"], module, sorted(unknown))
    assert calls >= 3
