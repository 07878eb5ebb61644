"""Stand-in for pypa's get-pip.py, for ansible-test's venv bootstrap.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which is not
reachable from every machine that runs our tests. This script behaves like the real
one as ansible-test calls it (``python get-pip.py [pip install options] [packages]``,
plus get-pip's own ``--no-setuptools``/``--no-wheel`` flags): it bootstraps the pip
bundled with CPython (ensurepip) and then installs the requested packages, e.g.
``pip==24.2``, from the package index.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own
# environment, which would hide the machine's pip configuration (index, certificates).
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
