"""molecule scenario `lb`: the apiserver_lb stage on three systemd containers.

create, converge, idempotence (changed=0 required), verify, destroy, as molecule runs
them; the real failover measurements are in test_lb_failover.py.
"""
import os
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(TOP, ".venv", "bin")


def test_molecule_lb():
    subprocess.run([os.path.join(TOP, "scripts", "docker-engine")], check=True)
    subprocess.run([os.path.join(TOP, "tests", "images", "build"), "bookworm"], check=True)
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run([os.path.join(VENV_BIN, "molecule"), "test", "-s", "lb"], cwd=TOP, env=env,
                            capture_output=True, text=True, timeout=1800, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert "idempotence" in out.lower()
