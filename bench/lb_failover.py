"""Measure the apiserver VIP failover and write bench/lb-failover.md.

Runs tests/integration/test_lb_failover.py (three containers, Debian's keepalived and
haproxy with the files hakube.cluster.apiserver_lb writes, a client at 20 requests/s)
with HAKUBE_LB_BENCH_OUT set, so the test writes its measurements as Markdown.

    .venv/bin/python bench/lb_failover.py [output.md]
"""
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "bench", "lb-failover.md"))
    env = dict(os.environ, HAKUBE_LB_BENCH_OUT=out)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/integration/test_lb_failover.py"], cwd=TOP, env=env, check=False)
    if res.returncode == 0:
        print("wrote " + out)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
