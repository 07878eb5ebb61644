"""scripts/docker-engine against stand-ins for docker, ctr, containerd and dockerd.

The real engine is started by this script at the head of every integration and e2e run
(CI included); these tests pin down its order and its failure messages without a Docker
install. The stand-ins model what the script observes of the real tools: `ctr version`
and `docker info` exit 0 only once their daemon answers, containerd takes a while to
answer, and dockerd (like the real one given `--containerd`) exits with "failed to start
containerd" when that socket does not answer as it starts. They keep their state in a
temporary directory and stay running like daemons until the test kills them.
"""
import os
import signal
import subprocess
import textwrap

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(TOP, "scripts", "docker-engine")

FAKES = {
    # `ctr --address SOCK version`: answers once containerd is up
    "ctr": """
        [ -e "$STATE/containerd-up" ] || { echo "ctr: connection refused" >&2; exit 1; }
        echo "Server: fake"
    """,
    # `docker info`: answers once dockerd is up
    "docker": """
        [ "$1" = info ] || exit 2
        [ -e "$STATE/dockerd-up" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
        echo "Server Version: fake"
    """,
    "containerd": """
        echo $$ >> "$STATE/pids"
        echo "containerd $*" >> "$STATE/started"
        if [ -n "${FAKE_CONTAINERD_FAIL:-}" ]; then echo "containerd: $FAKE_CONTAINERD_FAIL" >&2; exit 1; fi
        sleep "${FAKE_CONTAINERD_DELAY:-0}"
        touch "$STATE/containerd-up"
        echo "containerd successfully booted"
        exec sleep 600
    """,
    "dockerd": """
        echo $$ >> "$STATE/pids"
        echo "dockerd $*" >> "$STATE/started"
        case " $* " in *" --containerd="*) ;; *) echo "dockerd: started without --containerd" >&2; exit 1 ;; esac
        [ -e "$STATE/containerd-up" ] || { echo "failed to start containerd: timeout waiting for containerd to start" >&2; exit 1; }
        touch "$STATE/dockerd-up"
        exec sleep 600
    """,
}


@pytest.fixture
def engine(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    for name, body in FAKES.items():
        path = bindir / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        path.chmod(0o755)
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % bindir, STATE=str(state), HAKUBE_ENGINE_WAIT="20",
               HAKUBE_DOCKERD_LOG=str(tmp_path / "dockerd.log"), HAKUBE_CONTAINERD_LOG=str(tmp_path / "containerd.log"))

    def run(**extra):
        return subprocess.run([SCRIPT], env=dict(env, **extra), capture_output=True, text=True, timeout=60, check=False)

    run.state = state
    yield run
    pids = state / "pids"
    if pids.exists():
        for pid in pids.read_text().split():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass


def started(engine):
    path = engine.state / "started"
    return path.read_text().splitlines() if path.exists() else []


def test_containerd_first_then_dockerd_on_its_socket(engine):
    # 3 s to answer: the script waits for containerd before it starts dockerd
    res = engine(FAKE_CONTAINERD_DELAY="3")
    assert res.returncode == 0, res.stderr
    assert started(engine) == ["containerd ", "dockerd --containerd=/run/containerd/containerd.sock"]


def test_a_second_run_starts_nothing_and_prints_nothing(engine):
    assert engine().returncode == 0
    again = engine()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(started(engine)) == 2


def test_containerd_that_exits_is_named_with_its_log(engine, tmp_path):
    res = engine(FAKE_CONTAINERD_FAIL="simulated bad config")
    assert res.returncode == 1
    assert "containerd exited before it answered; last lines of %s" % (tmp_path / "containerd.log") in res.stderr
    assert "containerd: simulated bad config" in res.stderr
    assert started(engine) == ["containerd "]


def test_containerd_that_never_answers_times_out(engine):
    res = engine(FAKE_CONTAINERD_DELAY="30", HAKUBE_ENGINE_WAIT="2")
    assert res.returncode == 1
    assert "containerd did not answer within 2 s" in res.stderr
    assert started(engine) == ["containerd "]
