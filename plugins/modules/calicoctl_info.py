#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: calicoctl_info
short_description: List Calico resources of one kind with calicoctl
version_added: "0.1.0"
description:
  - Runs C(calicoctl get <kind> -o json), optionally with a label selector, and returns
    the resources.
  - With a selector such as V(hakube.io/managed-by == 'hakube') it lists what a role
    owns, so that the role can delete what it no longer declares and leave everything
    else alone.
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    support: none
options:
  kind:
    description:
      - Resource kind, for example V(BGPPeer).
    type: str
    required: true
  name:
    description:
      - Return only this resource (an empty list when it does not exist).
    type: str
  selector:
    description:
      - Calico label selector, for example V(hakube.io/managed-by == 'hakube').
    type: str
  namespace:
    description:
      - Namespace, for namespaced kinds only.
    type: str
  all_namespaces:
    description:
      - For namespaced kinds, list every namespace.
    type: bool
    default: false
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.calicoctl
seealso:
  - module: hakube.cluster.calicoctl
"""

EXAMPLES = r"""
- name: BGP peers that hakube created
  hakube.cluster.calicoctl_info:
    kind: BGPPeer
    selector: hakube.io/managed-by == 'hakube'
    kubeconfig: /etc/kubernetes/admin.conf
  register: owned

- name: Delete the ones no longer in the inventory
  hakube.cluster.calicoctl:
    kind: BGPPeer
    name: "{{ item }}"
    state: absent
    kubeconfig: /etc/kubernetes/admin.conf
  loop: "{{ owned.names | difference(calico_bgp_peers | map(attribute='name')) }}"
"""

RETURN = r"""
resources:
  description: The resources, as calicoctl prints them.
  returned: always
  type: list
  elements: dict
names:
  description: Their names.
  returned: always
  type: list
  elements: str
  sample: [openwrt-peer, tiny-unraid-peer]
calicoctl_version:
  description: The calicoctl client version, when O(expected_version) is set.
  returned: when expected_version is set
  type: str
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hakube.cluster.plugins.module_utils.calico import (
    CALICOCTL_COMMON_ARGS,
    CalicoctlError,
    calicoctl_from_module,
)


def main():
    argument_spec = dict(
        kind=dict(type="str", required=True),
        name=dict(type="str"),
        selector=dict(type="str"),
        namespace=dict(type="str"),
        all_namespaces=dict(type="bool", default=False),
    )
    argument_spec.update(copy.deepcopy(CALICOCTL_COMMON_ARGS))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    result = dict(changed=False, resources=[], names=[])
    try:
        ctl, version = calicoctl_from_module(module)
        if version:
            result["calicoctl_version"] = version
        if params["name"]:
            found = ctl.get(params["kind"], params["name"], params["namespace"])
            items = [found] if found else []
        else:
            items = ctl.list(params["kind"], selector=params["selector"],
                             namespace=params["namespace"],
                             all_namespaces=params["all_namespaces"])
    except CalicoctlError as exc:
        module.fail_json(**dict(result, **exc.fail_kwargs()))
    result["resources"] = items
    result["names"] = [(i.get("metadata") or {}).get("name") for i in items]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
