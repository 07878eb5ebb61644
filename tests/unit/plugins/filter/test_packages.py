"""Unit tests of plugins/filter/packages.py (dpkg_missing), on dpkg-query output in the
format the roles ask for (lines taken from a bookworm node)."""
import shutil
import subprocess

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter.packages import FilterModule, dpkg_missing, dpkg_query_argv

LISTING = (
    "curl\t7.88.1-10+deb12u14\tii \n"
    "chrony\t4.3-2+deb12u1\trc \n"          # removed, configuration left
    "containerd\t1.6.20~ds1-1+deb12u2\tii \n"
    "ipset\t7.17-1\thi \n"                  # held, installed
    "conntrack\t\tun \n"                    # known, never installed
    "libc6:amd64\t2.36-9+deb12u13\tii \n"
    "socat\t1.7.4.4-2\tiF \n"               # half-configured
)


def test_filter_name():
    assert sorted(FilterModule().filters()) == ["dpkg_missing", "dpkg_query_argv"]


def test_argv_drops_versions_and_blanks():
    argv = dpkg_query_argv(["curl", "containerd=1.6.20*", " ", "chrony"])
    assert argv[:3] == ["dpkg-query", "-W", "-f"]
    assert argv[4:] == ["curl", "containerd", "chrony"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg (Debian)")
def test_the_real_dpkg_query_output_parses():
    """The format the argv asks for is the one dpkg_missing reads (this machine's dpkg)."""
    wanted = ["dpkg", "no-such-package-hakube"]
    proc = subprocess.run(dpkg_query_argv(wanted), capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert dpkg_missing(wanted, proc.stdout) == ["no-such-package-hakube"]


def test_installed_and_missing():
    wanted = ["curl", "chrony", "ipset", "conntrack", "libc6", "socat", "ipvsadm"]
    assert dpkg_missing(wanted, LISTING) == ["chrony", "conntrack", "socat", "ipvsadm"]


@pytest.mark.parametrize("spec,missing", [
    ("containerd=1.6.20*", False),
    ("containerd=1.6.20~ds1-1+deb12u2", False),
    ("containerd=1.7*", True),
    ("containerd=1.6.2", True),
])
def test_versions(spec, missing):
    assert dpkg_missing([spec], LISTING) == ([spec] if missing else [])


def test_empty_listing_means_everything_is_missing():
    assert dpkg_missing(["curl", "", "chrony"], "") == ["curl", "chrony"]


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="list of package names"):
        dpkg_missing("curl", LISTING)
