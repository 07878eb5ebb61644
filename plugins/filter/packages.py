# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which packages of a list dpkg does not have installed.

``dpkg_query_argv`` makes the dpkg-query command whose output ``dpkg_missing`` reads, so
that the format and its parser stay together. The filters document themselves in
``plugins/filter/dpkg_query_argv.yml`` and ``plugins/filter/dpkg_missing.yml``.
"""

from __future__ import annotations

import fnmatch

from ansible.errors import AnsibleFilterError


# One line per package: name, version, db:Status-Abbrev, tab-separated (dpkg-query
# expands the \t and \n escapes itself).
DPKG_QUERY_FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"


def _names(wanted):
    if isinstance(wanted, str) or not isinstance(wanted, (list, tuple)):
        raise AnsibleFilterError("expected a list of package names, got %r" % (wanted,))
    return [str(spec).strip() for spec in wanted if str(spec).strip()]


def dpkg_query_argv(wanted):
    """``dpkg-query -W -f FORMAT NAME...`` for the apt specs ``wanted`` (versions dropped)."""
    return ["dpkg-query", "-W", "-f", DPKG_QUERY_FORMAT] + [spec.partition("=")[0] for spec in _names(wanted)]


def _installed(listing):
    """{package: version} of the packages dpkg-query lists as installed."""
    out = {}
    for line in str(listing or "").splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        name, version, status = parts
        # db:Status-Abbrev: desired (u/i/h/r/p), status (n/i/c/u/f/h/W/t), error flag.
        if len(status) >= 2 and status[1] == "i" and status[0] in "ih":
            out[name.split(":")[0]] = version
    return out


def dpkg_missing(wanted, listing):
    """The entries of ``wanted`` (apt specs: ``name`` or ``name=version``, the version
    may end in ``*``) that the output ``listing`` of ``dpkg_query_argv(wanted)`` does not
    show installed at that version."""
    installed = _installed(listing)
    missing = []
    for spec in _names(wanted):
        name, sep, version = spec.partition("=")
        have = installed.get(name)
        if have is None or (sep and not fnmatch.fnmatchcase(have, version)):
            missing.append(spec)
    return missing


class FilterModule(object):
    def filters(self):
        return {"dpkg_missing": dpkg_missing, "dpkg_query_argv": dpkg_query_argv}
