#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: file_content
short_description: Make a small text file hold the given content, in one module run
version_added: 0.2.0
description:
  - Writes O(content) to O(dest) when the file is missing or holds something else, and
    sets its owner, group and mode. What C(ansible.builtin.copy) with C(content) does for
    a configuration file, with the content rendered on the controller (for a template,
    C(lookup('ansible.builtin.template', 'x.j2')), which renders exactly as the
    C(ansible.builtin.template) action does).
  - The difference is the cost of a run that changes nothing. The content travels in the
    module's arguments, so the module compares and writes on the host in one module run;
    C(ansible.builtin.template) and C(ansible.builtin.copy) make a temporary directory on
    the host, run C(stat) and C(file) there and remove the directory again, five
    round trips for an unchanged file (measured in bench/lab.md). Meant for configuration
    files of up to some hundred kilobytes; copy binaries and archives with
    C(ansible.builtin.copy).
  - The file is replaced atomically (written beside O(dest), then renamed over it), so a
    reader sees the old content or the new, never a part. A file that holds the content
    already is not touched, only its attributes are set where they differ.
  - Missing parent directories are created (mode C(0755) less the umask, owned by the
    user the module runs as), as C(ansible.builtin.copy) does; give a directory other
    attributes with C(ansible.builtin.file) first.
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    description: Can run in check mode and return the changes it would make without making them.
    support: full
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in diff mode.
    support: full
    details: The old and new content, and the owner, group and mode changes. Give a task
      that writes a secret C(diff=false) and C(no_log=true).
extends_documentation_fragment:
  - ansible.builtin.files
options:
  dest:
    description:
      - Absolute path of the file. A directory there is an error.
    type: path
    required: true
    aliases: [path]
  content:
    description:
      - The whole text the file should hold, written as UTF-8 exactly as given (a template
        lookup keeps the template's trailing newline).
    type: str
    required: true
  validate:
    description:
      - Command run on the new content before it replaces O(dest); C(%s) stands for the
        path of a temporary file holding it. A non-zero exit fails the task and leaves
        O(dest) as it was. Not run when the content is unchanged or in check mode.
    type: str
'''

EXAMPLES = r'''
- name: Configure containerd
  hakube.cluster.file_content:
    dest: /etc/containerd/config.toml
    content: "{{ lookup('ansible.builtin.template', 'config.toml.j2') }}"
    owner: root
    group: root
    mode: "0644"
  notify: Restart containerd

- name: Write a file that holds a password (no content in the output)
  hakube.cluster.file_content:
    dest: /etc/keepalived/keepalived.conf
    content: "{{ lookup('ansible.builtin.template', 'keepalived.conf.j2') }}"
    mode: "0600"
  no_log: true
  diff: false

- name: Check a haproxy configuration before it is used
  hakube.cluster.file_content:
    dest: /etc/haproxy/haproxy.cfg
    content: "{{ lookup('ansible.builtin.template', 'haproxy.cfg.j2') }}"
    mode: "0644"
    validate: haproxy -c -f %s
'''

RETURN = r'''
dest:
  description: The file's path.
  returned: always
  type: str
  sample: /etc/containerd/config.toml
checksum:
  description: SHA-1 of the content the file holds now (or would hold, in check mode).
  returned: always
  type: str
  sample: 6e7cbe7a29b4ab2cc2f7b3f9e9a6b1b4c8b2d61e
sha256:
  description: SHA-256 of that content, as C(sha256sum) prints it (for a pod annotation
    that restarts a static pod when its configuration changes, without reading the file
    again).
  returned: always
  type: str
  sample: 3f2a3f0c5d0b8e6f1f1d2c4a7b9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978
content_changed:
  description: Whether the content was (or in check mode would be) written; C(changed)
    is also true when only the owner, group or mode was set.
  returned: always
  type: bool
  sample: false
'''

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native


def read_current(path):
    """The file's bytes, or None when there is no file."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True, aliases=['path']),
            content=dict(type='str', required=True),
            validate=dict(type='str'),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    dest = module.params['dest']
    validate = module.params['validate']
    wanted = to_bytes(module.params['content'], errors='surrogate_or_strict')
    checksum = hashlib.sha1(wanted).hexdigest()  # nosec - a content fingerprint, as copy's
    sha256 = hashlib.sha256(wanted).hexdigest()

    if not os.path.isabs(dest):
        module.fail_json(msg='dest must be an absolute path, not %s' % dest)
    if os.path.isdir(dest):
        module.fail_json(msg='dest %s is a directory; give the path of the file' % dest)
    parent = os.path.dirname(dest)
    if os.path.exists(parent) and not os.path.isdir(parent):
        module.fail_json(msg='%s is not a directory, so %s cannot be written' % (parent, dest))
    if validate and '%s' not in validate:
        module.fail_json(msg='validate must contain %%s, the path of the file to check: %s' % validate)

    current = read_current(dest)
    content_changed = current != wanted
    diffs = []
    if content_changed:
        diffs.append({'before_header': dest, 'after_header': dest,
                      'before': '' if current is None else to_native(current, errors='surrogate_then_replace'),
                      'after': to_native(wanted, errors='surrogate_then_replace')})

    if content_changed and not module.check_mode:
        if not os.path.isdir(parent):
            try:
                os.makedirs(parent, 0o755)
            except OSError as exc:
                module.fail_json(msg='cannot create the directory %s for %s: %s' % (parent, dest, to_native(exc)))
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(dest), dir=parent)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(wanted)
            if validate:
                rc, out, err = module.run_command(validate % tmp)
                if rc != 0:
                    module.fail_json(msg='validate failed for %s (%s): %s' % (dest, validate, (err or out).strip()),
                                     rc=rc, stdout=out, stderr=err)
            # atomic_move keeps an old file's attributes and SELinux context; the file
            # arguments below then set what the task asks for.
            module.atomic_move(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    file_args = module.load_file_common_arguments(module.params, path=dest)
    if module.check_mode and current is None:
        # No file yet to compare attributes with: a new file gets all those asked for.
        attrs = dict((k, file_args[k]) for k in ('owner', 'group', 'mode') if file_args.get(k) is not None)
        attrs_changed = bool(attrs)
        attr_diff = {'before': {}, 'after': attrs}
    else:
        attr_diff = {}
        attrs_changed = module.set_fs_attributes_if_different(file_args, False, diff=attr_diff)
    if attrs_changed:
        attr_diff = dict((side, dict((k, v) for k, v in attr_diff.get(side, {}).items() if k != 'path'))
                         for side in ('before', 'after'))
        attr_diff.update(before_header='%s (attributes)' % dest, after_header='%s (attributes)' % dest)
        diffs.append(attr_diff)

    result = dict(changed=content_changed or bool(attrs_changed), dest=dest, checksum=checksum,
                  sha256=sha256, content_changed=content_changed)
    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
