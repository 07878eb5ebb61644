"""The built collection installs and its ``hakube.cluster.site`` playbook runs preflight.

Builds the artifact with ``ansible-galaxy collection build``, installs it into a
temporary collections path (offline: ``--no-deps``, the dependency collections come
from the ``ansible`` package), then runs ``ansible-playbook hakube.cluster.site``
against the sample inventory, limited to the controller (an explicit ``localhost``
inventory source makes ``--limit localhost`` possible): phase 1 of preflight (the
inventory checks) must pass without contacting any host. The sample's addresses
belong to seed 004's network, not to this machine, so nothing may connect to them.
"""
import os
import subprocess
import sys
import tarfile

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _run(args, cwd, env=None):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    res = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), TOP], cwd=TOP)
    assert res.returncode == 0, res.stderr
    (artifact,) = list(out.glob("hakube-cluster-*.tar.gz"))
    return artifact


def test_artifact_is_versioned_and_lean(built):
    assert built.name == "hakube-cluster-0.1.0.tar.gz"
    with tarfile.open(built) as tar:
        names = tar.getnames()
    for must in ("galaxy.yml", "MANIFEST.json", "playbooks/site.yml", "roles/preflight/tasks/main.yml"):
        assert must in names or must == "galaxy.yml" and "MANIFEST.json" in names, must
    leaked = [n for n in names if n.startswith((".venv", ".build", ".collections", ".git/", ".cache", "inventories/lab/"))
              or "/credentials/" in n or n.endswith("/credentials")]
    assert leaked == []


def test_installed_site_playbook_runs_preflight_on_sample_inventory(built, tmp_path):
    dest = tmp_path / "collections"
    env = dict(os.environ)
    # an empty ansible.cfg: nothing from the checkout (its .collections link, which
    # already "installs" hakube.cluster 0.1.0) may help or make the install a no-op
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env.update(ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_NOCOLOR="1")
    res = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(dest), str(built)],
               cwd=str(tmp_path), env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (dest / "ansible_collections" / "hakube" / "cluster" / "playbooks" / "site.yml").is_file()
    inventory = os.path.join(TOP, "inventories", "sample", "hosts.yml")
    res = _run([os.path.join(BIN, "ansible-playbook"), "hakube.cluster.site", "-i", inventory, "-i", "localhost,", "--limit", "localhost",
                "--tags", "preflight", "-e", "hakube_credentials_dir=" + str(tmp_path / "credentials")], cwd=str(tmp_path), env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Preflight, phase 1 (inventory, on the controller)" in out
    assert str(dest) in _run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "hakube.cluster"], cwd=str(tmp_path), env=env).stdout
    # no cluster host was contacted
    assert "UNREACHABLE" not in out
    assert "k8s-calico-master-10-31-90-1" not in out.split("PLAY RECAP")[-1]
