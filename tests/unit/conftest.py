"""Make this checkout importable as ``ansible_collections.hakube.cluster``.

scripts/setup links ``.collections/ansible_collections/hakube/cluster`` to the
checkout; ``ansible_collections`` is a namespace package, so the dependency
collections installed by the ``ansible`` package stay importable beside it.
"""
import os
import sys

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTIONS = os.path.join(_TOP, ".collections")
if not os.path.exists(os.path.join(_COLLECTIONS, "ansible_collections", "hakube", "cluster")):
    raise RuntimeError("run scripts/setup first: it links this checkout as ansible_collections/hakube/cluster")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
