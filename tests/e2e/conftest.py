"""End-to-end tier: the lab cluster (scripts/lab) and its assertions.

Run with ``scripts/test e2e``. The session fixture makes sure the lab exists and has
converged: with LAB_REUSE=1 an existing lab is used as it is, otherwise ``scripts/lab
up`` runs first (it converges an existing lab too, so this is the first converge or a
rerun).
"""
import os
import subprocess

import pytest

import lab


def pytest_collection_modifyitems(items):
    """Keep file order: later tests disturb the cluster (failover, a killed join)."""
    items.sort(key=lambda item: (getattr(item.module, "ORDER", 50), item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def cluster():
    if not (os.environ.get("LAB_REUSE") == "1" and lab.lab_exists()):
        proc = subprocess.run([os.path.join(lab.TOP, "scripts", "lab"), "up"], cwd=lab.TOP, check=False)
        assert proc.returncode == 0, "scripts/lab up failed (exit %d): see its output above" % proc.returncode
    assert lab.lab_exists(), "the lab's nodes are missing after scripts/lab up"
    return lab


@pytest.fixture(scope="session")
def tls(cluster):  # pylint: disable=redefined-outer-name
    return cluster.ssl_context()
