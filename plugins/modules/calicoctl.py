#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: calicoctl
short_description: Create, update or delete one Calico resource with calicoctl
version_added: "0.1.0"
description:
  - Manages one C(projectcalico.org/v3) resource (BGPConfiguration, BGPPeer, IPPool,
    FelixConfiguration, Node, GlobalNetworkPolicy, ...) through C(calicoctl), so it
    works whether or not the Calico API server runs.
  - Reads the live object with C(calicoctl get <kind> <name> -o json) and compares only
    the fields you declare (C(metadata.labels), C(metadata.annotations), C(spec)).
    Fields the server fills in (defaults, C(resourceVersion), C(uid),
    C(creationTimestamp), status) never count as a difference. Lists are compared
    as declared (same length and order).
  - Writes only on a real difference, with C(calicoctl create -f) for a new object and
    C(calicoctl apply -f) for an existing one, from a temporary JSON file.
  - Supports check mode and diff mode (before and after of the declared fields).
  - Fails with a clear message when calicoctl is missing, when the datastore cannot be
    reached, or when the calicoctl version differs from O(expected_version) or from the
    cluster's Calico version.
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  definition:
    description:
      - The whole resource, as in a calicoctl YAML file (C(apiVersion), C(kind),
        C(metadata), C(spec)).
      - O(kind), O(name), O(namespace), O(spec) and O(labels), when given, override
        the definition's values.
    type: dict
  kind:
    description:
      - Resource kind, for example V(BGPPeer). Required unless O(definition) has one.
    type: str
  name:
    description:
      - Resource name. Required unless O(definition) has C(metadata.name).
    type: str
  namespace:
    description:
      - Namespace, for namespaced kinds (NetworkPolicy, NetworkSet, ...) only.
    type: str
  spec:
    description:
      - The resource's C(spec).
    type: dict
  labels:
    description:
      - Labels to set on the resource (compared as declared; other labels stay).
      - Mark what you own with a label such as C(hakube.io/managed-by=hakube), then list
        it with M(hakube.cluster.calicoctl_info) to delete what you no longer declare.
    type: dict
  state:
    description:
      - V(present) creates or updates the resource, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  merge:
    description:
      - When V(true), the declared fields are laid over the live object before it is
        applied, so fields you do not declare keep their live value.
      - Use it for kinds whose spec is partly written by Calico itself, above all
        C(Node) (for example to set C(spec.bgp.routeReflectorClusterID) without losing
        the node's addresses). With V(false) (the default) the declared spec replaces
        the live one, as C(calicoctl apply) does.
      - With V(true), a field declared as V(null) is removed from the live object (as
        in a JSON merge patch), for example C(spec.bgp.routeReflectorClusterID) of a
        node that is no longer a route reflector. A field that is already absent is
        no difference.
    type: bool
    default: false
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.calicoctl
notes:
  - calicoctl must run where it can reach the datastore, usually on a control plane
    node with C(/etc/kubernetes/admin.conf).
  - Removing a field from O(spec) does not count as a difference by itself (the live
    value might be a server default); change another field, or delete and recreate.
seealso:
  - module: hakube.cluster.calicoctl_info
  - name: calicoctl resource reference
    description: The projectcalico.org/v3 resources and their fields.
    link: https://docs.tigera.io/calico/latest/reference/resources/
"""

EXAMPLES = r"""
- name: BGP configuration (seed 004)
  hakube.cluster.calicoctl:
    kubeconfig: /etc/kubernetes/admin.conf
    expected_version: "3.33.1"
    definition:
      apiVersion: projectcalico.org/v3
      kind: BGPConfiguration
      metadata:
        name: default
      spec:
        nodeToNodeMeshEnabled: false
        asNumber: 64517
        serviceClusterIPs:
          - cidr: 10.33.128.0/18
        listenPort: 179
        bindMode: NodeIP

- name: A BGP peer we own
  hakube.cluster.calicoctl:
    kubeconfig: /etc/kubernetes/admin.conf
    kind: BGPPeer
    name: openwrt-peer
    labels:
      hakube.io/managed-by: hakube
    spec:
      peerIP: 10.31.254.253
      asNumber: 64512
      keepOriginalNextHop: true

- name: Make a node a route reflector without touching the rest of its spec
  hakube.cluster.calicoctl:
    kubeconfig: /etc/kubernetes/admin.conf
    kind: Node
    name: k8s-calico-master-10-31-90-1
    merge: true
    spec:
      bgp:
        routeReflectorClusterID: 244.0.0.1

- name: The node is no longer a route reflector
  hakube.cluster.calicoctl:
    kubeconfig: /etc/kubernetes/admin.conf
    kind: Node
    name: k8s-calico-master-10-31-90-2
    merge: true
    spec:
      bgp:
        routeReflectorClusterID: null

- name: Remove a peer
  hakube.cluster.calicoctl:
    kubeconfig: /etc/kubernetes/admin.conf
    kind: BGPPeer
    name: old-peer
    state: absent
"""

RETURN = r"""
resource:
  description: The live resource after the task (the declared one in check mode), or
    null when it is absent.
  returned: always
  type: dict
  sample:
    apiVersion: projectcalico.org/v3
    kind: BGPPeer
    metadata:
      name: openwrt-peer
    spec:
      peerIP: 10.31.254.253
      asNumber: 64512
action:
  description: What the module did or would do, one of V(create), V(apply), V(delete)
    or V(none).
  returned: always
  type: str
  sample: create
calicoctl_version:
  description: The calicoctl client version, when O(expected_version) is set.
  returned: when expected_version is set
  type: str
  sample: v3.33.1
stdout:
  description: What calicoctl printed for the write, for example
    C(Successfully applied 1 'BGPPeer' resource(s)).
  returned: when a write ran
  type: str
diff:
  description: Before and after of the declared fields (in diff mode).
  returned: when diff mode is on
  type: dict
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hakube.cluster.plugins.module_utils.calico import (
    CALICOCTL_COMMON_ARGS,
    CalicoctlError,
    build_definition,
    calicoctl_from_module,
    comparable,
    declared_equal,
    declared_view,
    deep_merge,
    is_namespaced,
)


def _argument_spec():
    spec = dict(
        definition=dict(type="dict"),
        kind=dict(type="str"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        spec=dict(type="dict"),
        labels=dict(type="dict"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        merge=dict(type="bool", default=False),
    )
    spec.update(copy.deepcopy(CALICOCTL_COMMON_ARGS))
    return spec


def _desired(module):
    params = module.params
    obj = build_definition(
        definition=params.get("definition"),
        kind=params.get("kind"),
        name=params.get("name"),
        namespace=params.get("namespace"),
        spec=params.get("spec"),
        labels=params.get("labels"),
    )
    if not obj.get("kind"):
        module.fail_json(msg="kind is required (as an option or in definition)")
    if not obj["metadata"].get("name"):
        module.fail_json(msg="name is required (as an option or in definition.metadata.name)")
    if not str(obj.get("apiVersion", "")).startswith("projectcalico.org/"):
        module.fail_json(msg="apiVersion must be projectcalico.org/v3, not %s" % obj.get("apiVersion"))
    if obj["metadata"].get("namespace") and not is_namespaced(obj["kind"]):
        module.fail_json(msg="%s is not a namespaced kind; drop the namespace" % obj["kind"])
    for key in list(obj["metadata"]):
        if key not in ("name", "namespace", "labels", "annotations"):
            # server fields in a definition copied from 'calicoctl get' never count
            obj["metadata"].pop(key)
    obj.pop("status", None)
    return obj


def main():
    module = AnsibleModule(
        argument_spec=_argument_spec(),
        required_one_of=[("definition", "kind")],
        supports_check_mode=True,
    )
    state = module.params["state"]
    want = _desired(module)
    kind = want["kind"]
    name = want["metadata"]["name"]
    namespace = want["metadata"].get("namespace")
    result = dict(changed=False, action="none", resource=None)

    try:
        ctl, version = calicoctl_from_module(module)
        if version:
            result["calicoctl_version"] = version
        have = ctl.get(kind, name, namespace)

        if state == "absent":
            result["resource"] = None
            if have is None:
                module.exit_json(**result)
            result.update(changed=True, action="delete")
            if module._diff:
                result["diff"] = dict(before=comparable(have), after={})
            if not module.check_mode:
                result["stdout"] = ctl.delete(kind, name, namespace)
            module.exit_json(**result)

        want_cmp = comparable(want)
        if have is None:
            result.update(changed=True, action="create")
            if module._diff:
                result["diff"] = dict(before={}, after=want_cmp)
            result["resource"] = want
            if not module.check_mode:
                result["stdout"] = ctl.write("create", want)
                result["resource"] = ctl.get(kind, name, namespace) or want
            module.exit_json(**result)

        have_cmp = comparable(have)
        if declared_equal(want_cmp, have_cmp):
            result["resource"] = have
            module.exit_json(**result)

        if module.params["merge"]:
            body = deep_merge(have_cmp, want_cmp)
            body["apiVersion"] = want["apiVersion"]
            body["kind"] = kind
        else:
            body = want
            # keep labels and annotations we do not declare (apply replaces metadata)
            for key in ("labels", "annotations"):
                live = (have.get("metadata") or {}).get(key)
                if live:
                    merged = dict(live)
                    merged.update(want["metadata"].get(key) or {})
                    body["metadata"][key] = merged
        result.update(changed=True, action="apply")
        if module._diff:
            result["diff"] = dict(before=declared_view(want_cmp, have_cmp), after=want_cmp)
        result["resource"] = body
        if not module.check_mode:
            result["stdout"] = ctl.write("apply", body)
            result["resource"] = ctl.get(kind, name, namespace) or body
        module.exit_json(**result)
    except CalicoctlError as exc:
        module.fail_json(**dict(result, **exc.fail_kwargs()))


if __name__ == "__main__":
    main()
