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
    support: full
  diff_mode:
    support: full
    details: The old and new content, and the owner, group and mode changes. Give a task
      that writes a secret C(diff=false) and C(no_log=true).
extends_documentation_fragment:
  - hakube.cluster.attributes
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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.hakube.cluster.plugins.module_utils.files import FileProblem, ensure_file


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
    wanted = to_bytes(module.params['content'], errors='surrogate_or_strict')
    try:
        outcome = ensure_file(module, dest, wanted, module.load_file_common_arguments(module.params, path=dest),
                              validate=module.params['validate'])
    except FileProblem as exc:
        module.fail_json(msg=str(exc), dest=dest)
    result = dict(changed=outcome['changed'], dest=dest, checksum=outcome['checksum'],
                  sha256=outcome['sha256'], content_changed=outcome['content_changed'])
    if module._diff and outcome['diffs']:
        result['diff'] = outcome['diffs']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
