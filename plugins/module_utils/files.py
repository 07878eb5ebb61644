# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Make a file hold given bytes, or a directory exist, with given attributes.

Shared by hakube.cluster.file_content (one file) and hakube.cluster.file_set (several
directories and files in one module run). Each function compares first and touches
nothing that already matches; in check mode it only compares. What would change is
returned as Ansible diff entries: the old and new content of a file, and the owner,
group and mode changes of a path.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import tempfile

from ansible.module_utils.common.text.converters import to_native

__all__ = ['ensure_file', 'ensure_directory', 'path_file_args', 'FileProblem']

_ATTRS = ('owner', 'group', 'mode')


class FileProblem(Exception):
    """A path that cannot be made what was asked, with the reason as its message."""


def path_file_args(module, path, owner=None, group=None, mode=None):
    """The file arguments of AnsibleModule.set_fs_attributes_if_different for PATH, as
    add_file_common_args would give them for a task with these owner, group and mode."""
    params = dict(path=path, owner=owner, group=group, mode=mode)
    return module.load_file_common_arguments(params, path=path)


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _attributes(module, path, file_args, exists):
    """Set PATH's owner, group and mode where they differ (only compare in check mode).
    Returns (changed, diff entry or None)."""
    if module.check_mode and not exists:
        # Nothing there yet to compare with: a new path gets every attribute asked for.
        attrs = dict((k, file_args[k]) for k in _ATTRS if file_args.get(k) is not None)
        if not attrs:
            return False, None
        diff = {'before': {}, 'after': attrs}
    else:
        diff = {}
        if not module.set_fs_attributes_if_different(file_args, False, diff=diff):
            return False, None
        diff = dict((side, dict((k, v) for k, v in diff.get(side, {}).items() if k != 'path'))
                    for side in ('before', 'after'))
    diff.update(before_header='%s (attributes)' % path, after_header='%s (attributes)' % path)
    return True, diff


def _make_parents(parent, dest):
    if os.path.isdir(parent):
        return
    try:
        os.makedirs(parent, 0o755)
    except OSError as exc:
        raise FileProblem('cannot create the directory %s for %s: %s' % (parent, dest, to_native(exc)))


def ensure_file(module, dest, wanted, file_args, validate=None):
    """Make the file DEST hold the bytes WANTED, then give it FILE_ARGS' attributes.

    The content is written beside DEST and renamed over it (a reader sees the old file or
    the new, never a part); VALIDATE, a command with %s for that temporary file, must
    pass first. Missing parent directories are created (0755 less the umask).
    Returns dict(changed, content_changed, checksum, sha256, diffs); raises FileProblem."""
    if not os.path.isabs(dest):
        raise FileProblem('dest must be an absolute path, not %s' % dest)
    if os.path.isdir(dest):
        raise FileProblem('dest %s is a directory; give the path of the file' % dest)
    parent = os.path.dirname(dest)
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise FileProblem('%s is not a directory, so %s cannot be written' % (parent, dest))
    if validate and '%s' not in validate:
        raise FileProblem('validate must contain %%s, the path of the file to check: %s' % validate)

    current = _read(dest)
    content_changed = current != wanted
    diffs = []
    if content_changed:
        diffs.append({'before_header': dest, 'after_header': dest,
                      'before': '' if current is None else to_native(current, errors='surrogate_then_replace'),
                      'after': to_native(wanted, errors='surrogate_then_replace')})
        if not module.check_mode:
            _make_parents(parent, dest)
            fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(dest), dir=parent)
            try:
                with os.fdopen(fd, 'wb') as handle:
                    handle.write(wanted)
                if validate:
                    rc, out, err = module.run_command(validate % tmp)
                    if rc != 0:
                        raise FileProblem('validate failed for %s (%s): %s' % (dest, validate, (err or out).strip()))
                # atomic_move keeps an old file's attributes and SELinux context; the
                # attributes asked for are set next.
                module.atomic_move(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    attrs_changed, attr_diff = _attributes(module, dest, file_args, current is not None)
    if attr_diff:
        diffs.append(attr_diff)
    return dict(changed=content_changed or attrs_changed, content_changed=content_changed,
                checksum=hashlib.sha1(wanted).hexdigest(),  # nosec - a content fingerprint, as copy's
                sha256=hashlib.sha256(wanted).hexdigest(), diffs=diffs)


def ensure_directory(module, path, file_args):
    """Make PATH a directory with FILE_ARGS' attributes. Missing parents are created as
    ansible.builtin.file does, each with the same attributes. Returns dict(changed,
    diffs); raises FileProblem."""
    if not os.path.isabs(path):
        raise FileProblem('path must be an absolute path, not %s' % path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileProblem('%s exists and is not a directory' % path)
    missing = []
    walk = path
    while not os.path.isdir(walk):
        if os.path.lexists(walk):
            raise FileProblem('%s is not a directory, so %s cannot be created' % (walk, path))
        missing.append(walk)
        walk = os.path.dirname(walk)
    missing.reverse()
    diffs = []
    if missing:
        diffs.append({'before_header': path, 'after_header': path,
                      'before': {'path': path, 'state': 'absent'},
                      'after': {'path': path, 'state': 'directory'}})
    if missing and module.check_mode:
        attr_diff = _attributes(module, path, file_args, False)[1]
        if attr_diff:
            diffs.append(attr_diff)
        return dict(changed=True, diffs=diffs)
    for created in missing:
        try:
            os.mkdir(created, 0o755)
        except OSError as exc:
            raise FileProblem('cannot create the directory %s: %s' % (created, to_native(exc)))
        if created != path:
            module.set_fs_attributes_if_different(dict(file_args, path=created), False)
    attrs_changed, attr_diff = _attributes(module, path, file_args, True)
    if attr_diff and not missing:
        diffs.append(attr_diff)
    return dict(changed=bool(missing) or attrs_changed, diffs=diffs)
