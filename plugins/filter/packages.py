# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which packages of a list dpkg does not have installed.

The filter documents itself in ``plugins/filter/dpkg_missing.yml``.
"""

from __future__ import annotations

import fnmatch

from ansible.errors import AnsibleFilterError


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
    may end in ``*``) that the ``dpkg-query -W -f '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'``
    output ``listing`` does not show installed at that version."""
    if isinstance(wanted, str) or not isinstance(wanted, (list, tuple)):
        raise AnsibleFilterError("dpkg_missing expects a list of package names, got %r" % (wanted,))
    installed = _installed(listing)
    missing = []
    for spec in wanted:
        spec = str(spec).strip()
        if not spec:
            continue
        name, sep, version = spec.partition("=")
        have = installed.get(name)
        if have is None or (sep and not fnmatch.fnmatchcase(have, version)):
            missing.append(spec)
    return missing


class FilterModule(object):
    def filters(self):
        return {"dpkg_missing": dpkg_missing}
