#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: file_set
short_description: Make several directories and small text files what they should be, in one module run
version_added: 0.3.0
description:
  - Creates each directory in O(directories) that is missing and gives it the owner, group
    and mode asked for; then makes each file in O(files) hold its content, as
    M(hakube.cluster.file_content) does for one file, and sets its owner, group and mode.
    Directories come first, in the order given, then the files, in the order given.
  - The point is the cost of a run that changes nothing. A role that lays out its
    directories and configuration files with one C(ansible.builtin.file) or
    M(hakube.cluster.file_content) task per path pays one module run per path (a loop
    runs the module once per item); this module compares and writes them all in one run
    on the host. Measured in bench/converge.md.
  - A file's content is given as text (O(files[].content), rendered on the controller, for a
    template with C(lookup('ansible.builtin.template', 'x.j2'))) or as the output of a
    command run on the host (O(files[].command), for a file the installed software
    generates itself, such as its bash completion).
  - Each file is replaced atomically (written beside it, then renamed over it); a file
    that holds the content already is not touched, only its attributes are set where
    they differ. Missing parent directories of a file are created with mode C(0755) less
    the umask; list a directory in O(directories) to give it other attributes.
  - The first path that cannot be made what was asked (a file where a directory should
    be, a failing command or O(files[].validate)) fails the task and names the path;
    paths before it in the list may have been changed already, and the next run goes on
    from there.
  - Use one task per set of paths that share a handler, since a task notifies its handlers
    when any of its paths changed; RV(changed_paths) says which did.
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    support: full
    details: The commands of O(files[].command) run in check mode too, since their output is
      what the file would hold; give only commands that change nothing. One that is not
      installed yet makes its file count as changed (RV(content_unknown)).
  diff_mode:
    support: full
    details: Each file's old and new content, each new directory, and the owner, group and
      mode changes of every path. Give a task whose files hold a secret C(diff=false) and
      C(no_log=true).
extends_documentation_fragment:
  - hakube.cluster.attributes
options:
  directories:
    description:
      - Directories that must exist. Missing parents are created with the same attributes,
        as C(ansible.builtin.file) with C(state=directory) does.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory. Something else than a directory there is an error.
        type: path
        required: true
      owner:
        description: User that should own it; unchanged when not given.
        type: str
      group:
        description: Group that should own it; unchanged when not given.
        type: str
      mode:
        description:
          - Permissions, as for C(ansible.builtin.file) (quote octal numbers, V("0755"), or
            give symbolic modes); unchanged when not given (a new directory gets C(0755)
            less the umask).
        type: raw
  files:
    description: Files that must hold the given content.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file. A directory there is an error.
        type: path
        required: true
        aliases: [path]
      content:
        description:
          - The whole text the file should hold, written as UTF-8 exactly as given.
          - Exactly one of O(files[].content) and O(files[].command) is required.
        type: str
      command:
        description:
          - A command, as a list of its arguments (no shell), whose standard output is the
            file's content. It runs on the host on every module run, check mode included;
            a non-zero exit fails the task and leaves the file as it was.
          - In check mode a command that is not installed does not fail, because an earlier
            task of the same run would install it and did not, being in check mode too. The
            file counts as changed and is listed in RV(content_unknown).
          - Exactly one of O(files[].content) and O(files[].command) is required.
        type: list
        elements: str
      owner:
        description: User that should own the file; unchanged (or the module's user, for a new file) when not given.
        type: str
      group:
        description: Group that should own the file; unchanged (or the module's group, for a new file) when not given.
        type: str
      mode:
        description:
          - Permissions, as for C(ansible.builtin.copy); a new file without a mode gets
            C(0600) less the umask, an existing file keeps its mode.
        type: raw
      validate:
        description:
          - Command run on the new content before it replaces the file; C(%s) stands for the
            path of a temporary file holding it. A non-zero exit fails the task and leaves the
            file as it was. Not run when the content is unchanged or in check mode.
        type: str
notes:
  - SELinux contexts and file attributes (C(chattr)) are left as they are; an existing
    file's context is kept when its content is replaced.
seealso:
  - module: hakube.cluster.file_content
  - module: ansible.builtin.file
'''

EXAMPLES = r'''
- name: Lay out containerd's directories and its registry configuration
  hakube.cluster.file_set:
    directories:
      - {path: /etc/containerd, owner: root, group: root, mode: "0755"}
      - {path: /etc/containerd/certs.d/docker.io, owner: root, group: root, mode: "0755"}
    files:
      - dest: /etc/containerd/certs.d/docker.io/hosts.toml
        content: "{{ lookup('ansible.builtin.template', 'hosts.toml.j2') }}"
        owner: root
        group: root
        mode: "0644"

- name: Install the bash completion that the installed binaries print
  hakube.cluster.file_set:
    files:
      - dest: /etc/bash_completion.d/kubectl
        command: [/usr/local/bin/kubectl, completion, bash]
        owner: root
        group: root
        mode: "0644"
  register: completion

- name: Restart journald only when its own files changed
  hakube.cluster.file_set:
    directories:
      - {path: /var/log/journal, owner: root, group: systemd-journal, mode: "2755"}
    files:
      - dest: /etc/systemd/journald.conf.d/99-local.conf
        content: |
          [Journal]
          Storage=persistent
        mode: "0644"
  notify: Restart journald
'''

RETURN = r'''
changed_paths:
  description: The directories and files that were (or in check mode would be) created or
    changed, content or attributes, in the order they were handled.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/certs.d/docker.io, /etc/containerd/certs.d/docker.io/hosts.toml]
content_unknown:
  description: Files whose O(files[].command) is not installed yet, in check mode; they count
    as changed, since what they would hold cannot be known before the command is there.
  returned: always
  type: list
  elements: str
  sample: [/etc/bash_completion.d/kubectl]
files:
  description: Per file (by its path), the SHA-1 and SHA-256 of the content it holds now (or
    would hold, in check mode) and whether that content was (or would be) written.
  returned: always
  type: dict
  sample:
    /etc/crictl.yaml:
      checksum: 6e7cbe7a29b4ab2cc2f7b3f9e9a6b1b4c8b2d61e
      sha256: 3f2a3f0c5d0b8e6f1f1d2c4a7b9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978
      content_changed: false
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.hakube.cluster.plugins.module_utils.files import (
    FileProblem, ensure_directory, ensure_file, path_file_args)


def installed(module, executable):
    """Whether EXECUTABLE (a path, or a name looked up on PATH) can be run."""
    if os.path.sep in executable:
        return os.path.isfile(executable) and os.access(executable, os.X_OK)
    return module.get_bin_path(executable) is not None


def command_output(module, dest, argv):
    """The standard output of ARGV (the content of DEST), or a failure that names both.
    The caller has made sure that ARGV[0] is installed."""
    rc, out, err = module.run_command(argv, encoding=None, expand_user_and_vars=False)
    if rc != 0:
        raise FileProblem('the command for %s (%s) exited with %d: %s'
                          % (dest, ' '.join(argv), rc, to_native(err or out, errors='surrogate_then_replace').strip()))
    return out


def main():
    attrs = dict(owner=dict(type='str'), group=dict(type='str'), mode=dict(type='raw'))
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type='list', elements='dict', default=[],
                             options=dict(path=dict(type='path', required=True), **attrs)),
            files=dict(type='list', elements='dict', default=[],
                       options=dict(dest=dict(type='path', required=True, aliases=['path']),
                                    content=dict(type='str'),
                                    command=dict(type='list', elements='str'),
                                    validate=dict(type='str'), **attrs),
                       mutually_exclusive=[('content', 'command')],
                       required_one_of=[('content', 'command')]),
        ),
        supports_check_mode=True,
    )
    changed_paths, diffs, files, unknown = [], [], {}, []
    current = None
    try:
        for entry in module.params['directories']:
            current = entry['path']
            outcome = ensure_directory(module, current, path_file_args(
                module, current, entry['owner'], entry['group'], entry['mode']))
            if outcome['changed']:
                changed_paths.append(current)
                diffs.extend(outcome['diffs'])
        for entry in module.params['files']:
            current = entry['dest']
            if entry['command'] is not None:
                argv = entry['command']
                if not installed(module, argv[0]):
                    if not module.check_mode:
                        raise FileProblem('the command for %s (%s) is not installed' % (current, ' '.join(argv)))
                    unknown.append(current)
                    changed_paths.append(current)
                    diffs.append({'before_header': current, 'after_header': current,
                                  'before': '', 'after': '(what %s prints: it is not installed yet)' % ' '.join(argv)})
                    continue
                wanted = command_output(module, current, argv)
            else:
                wanted = to_bytes(entry['content'], errors='surrogate_or_strict')
            outcome = ensure_file(module, current, wanted, path_file_args(
                module, current, entry['owner'], entry['group'], entry['mode']), validate=entry['validate'])
            files[current] = dict(checksum=outcome['checksum'], sha256=outcome['sha256'],
                                  content_changed=outcome['content_changed'])
            if outcome['changed']:
                changed_paths.append(current)
                diffs.extend(outcome['diffs'])
    except FileProblem as exc:
        module.fail_json(msg=str(exc), path=current, changed=bool(changed_paths) and not module.check_mode,
                         changed_paths=changed_paths)
    result = dict(changed=bool(changed_paths), changed_paths=changed_paths, files=files, content_unknown=unknown)
    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
