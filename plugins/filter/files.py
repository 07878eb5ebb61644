# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which files a host already has as wanted.

The filter documents itself in ``plugins/filter/files_in_place.yml``.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleFilterError


def files_in_place(found, wanted, mode, owner="root", group="root"):
    """The names in ``wanted`` ({name: sha1}) that ``found`` (the ``files`` of an
    ``ansible.builtin.find`` with ``get_checksum`` and sha1) holds with that checksum,
    ``mode``, ``owner`` and ``group``, in the order of ``wanted``."""
    if not isinstance(wanted, dict):
        raise AnsibleFilterError("files_in_place expects {name: sha1} as wanted, got %r" % (wanted,))
    have = set()
    for entry in found or []:
        if (entry.get("mode") == mode and entry.get("pw_name") == owner and entry.get("gr_name") == group
                and entry.get("checksum")):
            have.add((os.path.basename(entry.get("path", "")), entry["checksum"]))
    return [name for name, sha1 in wanted.items() if (name, sha1) in have]


class FilterModule(object):
    def filters(self):
        return {"files_in_place": files_in_place}
