"""Run the molecule scenario of host_prep, container_runtime and kube_packages.

`molecule test -s default` on Debian systemd containers (tests/images/build makes them,
scripts/docker-engine starts a Docker engine when none answers). The same scenario runs
on trixie when tests/images/build produced hakube/node:trixie (HAKUBE_NODE_SUITE).
"""
import os
import shutil
import subprocess

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(TOP, ".venv", "bin")


def _env(**extra):
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.pop("ANSIBLE_CONFIG", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def docker_images():
    if not shutil.which("docker") and not shutil.which("apt-get"):
        pytest.skip("no docker CLI and no apt-get to install one")
    subprocess.run([os.path.join(TOP, "scripts", "docker-engine")], check=True)
    subprocess.run([os.path.join(TOP, "tests", "images", "build")], check=True)
    out = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "hakube/node"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return set(out)


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_molecule_default(docker_images, suite):
    if f"hakube/node:{suite}" not in docker_images:
        pytest.skip(f"hakube/node:{suite} was not built")
    result = subprocess.run(
        [os.path.join(VENV_BIN, "molecule"), "test", "-s", "default"],
        cwd=TOP, env=_env(HAKUBE_NODE_SUITE=suite), capture_output=True, text=True, timeout=3600, check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-80:])
        pytest.fail(f"molecule test -s default on {suite} failed:\n{tail}")
