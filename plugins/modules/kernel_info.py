#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kernel_info
short_description: Read the state of kernel modules, kernel parameters and swap, in one module run
version_added: 0.3.0
description:
  - Reports, without changing anything, what a host preparation decides on. Whether each
    kernel module in O(modules) is loaded, built into the kernel or missing; for each
    kernel parameter in O(sysctl), whether the running kernel has it, whether it can be
    written here, its value and its value in O(sysctl_file); and the swap areas in use and
    those C(/etc/fstab) turns on at boot.
  - A module counts as built in when the kernel's C(modules.builtin) lists it, when
    C(/sys/module/<name>) exists without an C(initstate) (a built-in module with
    parameters), or when the path O(module_probes) gives for it exists (a built-in module
    without parameters leaves no trace in C(/sys/module); C(/proc/sys/net/bridge) shows
    C(br_netfilter), for example). C(modprobe) cannot load a built-in module, and hosts
    without C(/lib/modules) (containers, some VMs) cannot load any, so a role should treat
    built in as loaded.
  - A parameter is C(ro) when its C(/proc/sys) file exists but cannot be written, as in a
    container, where C(/proc/sys) is mounted read-only; C(absent) when the running kernel
    does not have it (such as C(net.ipv4.tcp_tw_recycle), removed in Linux 4.12).
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    description: Reads only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is never a diff.
    support: none
options:
  modules:
    description: Names of kernel modules to look for.
    type: list
    elements: str
    default: []
  module_probes:
    description: Per module name, a path whose existence shows that the module's code is in
      the running kernel.
    type: dict
    default: {}
  sysctl:
    description: Kernel parameters to read, in C(sysctl) notation (C(net.ipv4.ip_forward)).
    type: list
    elements: str
    default: []
  sysctl_file:
    description: A C(sysctl.d) file whose setting of each parameter to report (the last one
      in the file, as C(sysctl --system) applies them).
    type: path
  fstab:
    description: The file systems table whose swap entries to report.
    type: path
    default: /etc/fstab
notes:
  - Reads C(/proc/modules), C(/lib/modules/<release>/modules.builtin), C(/sys/module),
    C(/proc/sys) and C(/proc/swaps) of the running kernel.
seealso:
  - module: community.general.modprobe
  - module: ansible.posix.sysctl
'''

EXAMPLES = r'''
- name: Read the kernel's modules, parameters and swap
  hakube.cluster.kernel_info:
    modules: [overlay, br_netfilter, ip_vs]
    module_probes:
      br_netfilter: /proc/sys/net/bridge
      ip_vs: /proc/net/ip_vs
    sysctl: [net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables, net.ipv4.tcp_tw_recycle]
    sysctl_file: /etc/sysctl.d/99-kubernetes.conf
  register: kernel

- name: Load what is missing
  community.general.modprobe:
    name: "{{ item.key }}"
  loop: "{{ kernel.modules | dict2items | selectattr('value', 'equalto', 'missing') }}"
'''

RETURN = r'''
modules:
  description: Per module name, C(loaded), C(builtin) or C(missing).
  returned: always
  type: dict
  sample: {overlay: builtin, br_netfilter: builtin, ip_vs: missing}
sysctl:
  description: Per parameter, in the order asked.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The parameter.
      type: str
    mode:
      description: C(rw) (the kernel has it and it can be written here), C(ro) (it can only
        be read here) or C(absent) (the running kernel does not have it).
      type: str
    value:
      description: The kernel's value, runs of white space made one space (C('') when absent).
      type: str
    file:
      description: Its value in O(sysctl_file), white space as in RV(sysctl[].value); C('')
        when the file does not set it.
      type: str
  sample:
    - {key: net.ipv4.ip_forward, mode: rw, value: "1", file: "1"}
    - {key: net.ipv4.tcp_tw_recycle, mode: absent, value: "", file: ""}
swap:
  description: Swap in use now and swap that C(/etc/fstab) turns on at boot.
  returned: always
  type: dict
  contains:
    active:
      description: The swap areas the kernel uses (the first column of C(/proc/swaps)).
      type: list
      elements: str
    fstab:
      description: The uncommented lines of O(fstab) whose file system type is C(swap).
      type: list
      elements: str
  sample: {active: [/dev/sda2], fstab: ["UUID=0f7c... none swap sw 0 0"]}
'''

import os
import platform
import re

from ansible.module_utils.basic import AnsibleModule


def _lines(path):
    try:
        with open(path, 'r') as handle:
            return handle.read().splitlines()
    except (IOError, OSError):
        return None


def module_states(names, probes, proc_modules='/proc/modules', sys_module='/sys/module', builtin_list=None):
    """Per module NAME: loaded, builtin or missing."""
    loaded = set(line.split(' ', 1)[0] for line in (_lines(proc_modules) or []))
    builtin = set()
    for line in (_lines(builtin_list) if builtin_list else None) or []:
        match = re.search(r'/([^/]+)\.ko(\.[a-z]+)?$', line.strip())
        if match:
            builtin.add(match.group(1))
    states = {}
    for name in names:
        in_sys = os.path.join(sys_module, name)
        if name in loaded:
            states[name] = 'loaded'
        elif (name in builtin or name.replace('_', '-') in builtin
              or (os.path.isdir(in_sys) and not os.path.exists(os.path.join(in_sys, 'initstate')))
              or (probes.get(name) and os.path.exists(probes[name]))):
            states[name] = 'builtin'
        else:
            states[name] = 'missing'
    return states


def _squeeze(text):
    return ' '.join(text.split())


def sysctl_file_values(path):
    """The last value the sysctl.d file PATH gives each key ('' for a file that is not there)."""
    values = {}
    for line in (_lines(path) if path else None) or []:
        stripped = line.strip()
        if not stripped or stripped[0] in '#;' or '=' not in stripped:
            continue
        key, value = stripped.split('=', 1)
        # A leading '-' tells sysctl to ignore a failure to set the key.
        values[key.strip().lstrip('-').replace('/', '.')] = _squeeze(value)
    return values


def sysctl_states(keys, sysctl_file=None, proc_sys='/proc/sys'):
    in_file = sysctl_file_values(sysctl_file)
    out = []
    for key in keys:
        path = os.path.join(proc_sys, *key.split('.'))
        if not os.path.exists(path):
            mode, value = 'absent', ''
        else:
            mode = 'rw' if os.access(path, os.W_OK) else 'ro'
            try:
                with open(path, 'r') as handle:
                    value = _squeeze(handle.read())
            except (IOError, OSError):
                mode, value = 'absent', ''
        out.append(dict(key=key, mode=mode, value=value, file=in_file.get(key, '')))
    return out


def swap_state(proc_swaps='/proc/swaps', fstab='/etc/fstab'):
    active = [line.split()[0] for line in (_lines(proc_swaps) or [])[1:] if line.strip()]
    entries = []
    for line in _lines(fstab) or []:
        fields = line.split()
        if len(fields) >= 3 and not fields[0].startswith('#') and fields[2] == 'swap':
            entries.append(line)
    return dict(active=active, fstab=entries)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            modules=dict(type='list', elements='str', default=[]),
            module_probes=dict(type='dict', default={}),
            sysctl=dict(type='list', elements='str', default=[]),
            sysctl_file=dict(type='path'),
            fstab=dict(type='path', default='/etc/fstab'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    builtin_list = os.path.join('/lib/modules', platform.release(), 'modules.builtin')
    module.exit_json(
        changed=False,
        modules=module_states(params['modules'], params['module_probes'], builtin_list=builtin_list),
        sysctl=sysctl_states(params['sysctl'], params['sysctl_file']),
        swap=swap_state(fstab=params['fstab']),
    )


if __name__ == '__main__':
    main()
