"""Make this checkout importable as ``ansible_collections.hakube.cluster``.

scripts/setup links ``.collections/ansible_collections/hakube/cluster`` to the
checkout; ``ansible_collections`` is a namespace package, so the dependency
collections installed by the ``ansible`` package stay importable beside it.

Ansible's collection loader is installed here, before any test module is imported: a
test that imports ``ansible_collections.hakube.cluster...`` directly (the filter tests)
would otherwise load the collection as a plain namespace package, and the role tests
that template with the collection's filters would then fail with "collection metadata
was not loaded for collection hakube.cluster" (seen when the whole unit suite ran).
"""
import os
import sys

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTIONS = os.path.join(_TOP, ".collections")
if not os.path.exists(os.path.join(_COLLECTIONS, "ansible_collections", "hakube", "cluster")):
    raise RuntimeError("run scripts/setup first: it links this checkout as ansible_collections/hakube/cluster")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

# After the path: the loader's search includes sys.path (COLLECTIONS_SCAN_SYS_PATH).
from ansible.plugins.loader import init_plugin_loader  # noqa: E402  pylint: disable=wrong-import-position

init_plugin_loader([_COLLECTIONS])
