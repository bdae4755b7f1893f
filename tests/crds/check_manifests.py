#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Offline checker of the manifests under crds/: kinds and current apiVersions, required fields,
# the NAD CRD against its expected apiextensions.k8s.io/v1 form, RBAC against the API calls in the code, example NADs and pods,
# and kustomization.yaml (every manifest listed, every plexus container's image named in it).
# Usage: check_manifests.py [CRDS_DIR] [SRC_ROOT]; prints "PASS: x" / "FAIL: x" lines.
import json
import os
import re
import subprocess
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRDS = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(TOP, "crds")
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else TOP
INSTALL_BIN = os.environ.get("PLEXUS_INSTALL_BIN")
KUSTOMIZATION = "kustomization.yaml"

# Current (non-removed, non-beta) API versions of every kind we ship.
KINDS = {
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", False),
    "ServiceAccount": ("v1", True),
    "ConfigMap": ("v1", True),
    "Pod": ("v1", True),
    "DaemonSet": ("apps/v1", True),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", False),
    "Role": ("rbac.authorization.k8s.io/v1", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", True),
    "NetworkAttachmentDefinition": ("k8s.cni.cncf.io/v1", True),
    "ValidatingAdmissionPolicy": ("admissionregistration.k8s.io/v1", False),
    "ValidatingAdmissionPolicyBinding": ("admissionregistration.k8s.io/v1", False),
    "DeviceClass": ("resource.k8s.io/v1", False),
    "ResourceClaimTemplate": ("resource.k8s.io/v1", True),
    "IPPool": ("whereabouts.cni.cncf.io/v1alpha1", True),
    "OverlappingRangeIPReservation": ("whereabouts.cni.cncf.io/v1alpha1", True),
}
# Manifests kubectl apply -k leaves out: the DRA driver needs Kubernetes 1.34+ (docs/dra.md).
KUSTOMIZATION_OPTIONAL = {"dra.yaml", "dra-examples.yaml"}
BUILTIN_TYPES = {"macvlan", "ipvlan", "vxlan", "sriov"}
IPAM_TYPES = {"host-local", "static", "dhcp", "whereabouts"}
CNI_VERSIONS = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}
# Granted beyond what the code calls, each with its reason (docs/install.md).
RBAC_EXTRA = {
    ("resource.k8s.io", "resourceclaims/driver", "associated-node:patch"):
        "Kubernetes 1.36+ authorizes a driver's status.devices entries on this synthetic "
        "subresource (the meta-plugin's claim status PATCH, docs/dra.md)",
    ("whereabouts.cni.cncf.io", "overlappingrangeipreservations", "get"):
        "whereabouts/store.c orip_get: the reservation's path comes from its callers",
    ("k8s.cni.cncf.io", "network-attachment-definitions", "list"):
        "Multus-compatible role; kubectl-style NAD listing for the troubleshooting doc",
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

CRD_EXPECTED = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
    "spec": {
        "group": "k8s.cni.cncf.io",
        "scope": "Namespaced",
        "names": {
            "plural": "network-attachment-definitions",
            "singular": "network-attachment-definition",
            "kind": "NetworkAttachmentDefinition",
            "shortNames": ["net-attach-def", "nad"],
        },
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object",
                             "properties": {"config": {"type": "string"}}},
                }}},
        }],
    },
}

fails = 0


def result(ok, name, why=""):
    global fails
    if ok:
        print(f"PASS: {name}")
    else:
        fails += 1
        print(f"FAIL: {name}{': ' + why if why else ''}")


def problems(name, errs):
    result(not errs, name, "; ".join(errs[:8]))


def strip_descriptions(x):
    if isinstance(x, dict):
        return {k: strip_descriptions(v) for k, v in x.items() if k != "description"}
    if isinstance(x, list):
        return [strip_descriptions(v) for v in x]
    return x


def load_all():
    docs = []
    errs = []
    files = []
    for root, _, names in os.walk(CRDS):
        for n in sorted(names):
            if n.endswith((".yaml", ".yml")) and n != KUSTOMIZATION:
                files.append(os.path.join(root, n))
    for f in sorted(files):
        rel = os.path.relpath(f, CRDS)
        try:
            with open(f) as fh:
                for i, d in enumerate(yaml.safe_load_all(fh)):
                    if d is None:
                        continue
                    if not isinstance(d, dict):
                        errs.append(f"{rel} doc {i}: not a mapping")
                        continue
                    docs.append((rel, d))
        except yaml.YAMLError as e:
            errs.append(f"{rel}: {e}".replace("\n", " "))
    problems(f"every manifest under crds/ parses as YAML ({len(files)} files, {len(docs)} objects)",
             errs if files else ["no manifests"])
    return docs


def ident(rel, d):
    return f"{rel}: {d.get('kind')}/{(d.get('metadata') or {}).get('name')}"


def check_kinds(docs):
    errs = []
    for rel, d in docs:
        kind, api = d.get("kind"), d.get("apiVersion")
        if kind not in KINDS:
            errs.append(f"{rel}: unknown kind {kind!r}")
            continue
        want, namespaced = KINDS[kind]
        if api != want:
            errs.append(f"{ident(rel, d)}: apiVersion {api!r}, want {want!r}")
        md = d.get("metadata")
        if not isinstance(md, dict) or not md.get("name"):
            errs.append(f"{rel}: {kind} without metadata.name")
            continue
        if not DNS_SUB.match(md["name"]) or len(md["name"]) > 253:
            errs.append(f"{ident(rel, d)}: name is not a DNS-1123 subdomain")
        if not namespaced and "namespace" in md:
            errs.append(f"{ident(rel, d)}: cluster-scoped object with a namespace")
        if namespaced and "namespace" in md and not DNS_LABEL.match(str(md["namespace"])):
            errs.append(f"{ident(rel, d)}: bad namespace")
        for k in ("labels", "annotations"):
            for key, v in (md.get(k) or {}).items():
                if not isinstance(v, str):
                    errs.append(f"{ident(rel, d)}: metadata.{k}[{key}] is not a string")
    problems("kinds and apiVersions are real and current; metadata.name present", errs)


def check_crd(docs):
    crds = [d for _, d in docs if d.get("kind") == "CustomResourceDefinition"]
    nad = [d for d in crds if (d.get("metadata") or {}).get("name") ==
           "network-attachment-definitions.k8s.cni.cncf.io"]
    result(len(nad) == 1, "the NAD CRD is shipped once", f"found {len(nad)}")
    if nad:
        got = strip_descriptions(nad[0])
        result(got == CRD_EXPECTED, "the NAD CRD matches the expected v1 form exactly",
               json.dumps(got, sort_keys=True))


# whereabouts' CRDs (crds/whereabouts.yaml, descriptions left out): the group, names, scope,
# version and structural schema of whereabouts v0.8.1's, plus its later optional ipamclaimref.
def wb_crd(plural, kind, top_required, spec):
    schema = {"type": "object",
              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                             "metadata": {"type": "object"}, "spec": spec}}
    if top_required:
        schema["required"] = top_required
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.whereabouts.cni.cncf.io"},
        "spec": {
            "group": "whereabouts.cni.cncf.io",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind,
                      "listKind": kind + "List"},
            "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema}}],
        },
    }


STR = {"type": "string"}
WB_CRDS_EXPECTED = {
    "IPPool": wb_crd("ippools", "IPPool", None, {
        "type": "object", "required": ["allocations", "range"],
        "properties": {"range": STR, "allocations": {
            "type": "object", "additionalProperties": {
                "type": "object", "required": ["id", "podref"],
                "properties": {"id": STR, "podref": STR, "ifname": STR, "ipamclaimref": STR}}}}}),
    "OverlappingRangeIPReservation": wb_crd("overlappingrangeipreservations",
                                            "OverlappingRangeIPReservation", ["spec"], {
        "type": "object", "required": ["podref"],
        "properties": {"containerid": STR, "podref": STR, "ifname": STR, "ipamclaimref": STR}}),
}
# Objects whereabouts v0.8.1 writes that plexus's own tests do not show: a reservation without
# containerid, and an allocation without ifname (written before whereabouts recorded ifnames).
WB_THEIRS = [
    {"apiVersion": "whereabouts.cni.cncf.io/v1alpha1", "kind": "OverlappingRangeIPReservation",
     "metadata": {"name": "10.1.0.5", "namespace": "kube-system"},
     "spec": {"podref": "default/web-0", "ifname": "net1"}},
    {"apiVersion": "whereabouts.cni.cncf.io/v1alpha1", "kind": "IPPool",
     "metadata": {"name": "10.1.0.0-24", "namespace": "kube-system"},
     "spec": {"range": "10.1.0.0/24", "allocations": {"5": {"id": "c1", "podref": "default/a"}}}},
]
# Objects the CRDs must refuse or prune: the validator below is not vacuous.
WB_BAD = [
    ("an allocation without podref", {"kind": "IPPool", "spec": {
        "range": "10.1.0.0/24", "allocations": {"5": {"id": "c1"}}}}),
    ("a pool without allocations", {"kind": "IPPool", "spec": {"range": "10.1.0.0/24"}}),
    ("an allocation field the CRD would prune", {"kind": "IPPool", "spec": {
        "range": "10.1.0.0/24", "allocations": {"5": {"id": "c1", "podref": "d/a", "node": "n"}}}}),
    ("an allocation that is not an object", {"kind": "IPPool", "spec": {
        "range": "10.1.0.0/24", "allocations": {"5": "c1"}}}),
    ("a reservation without spec", {"kind": "OverlappingRangeIPReservation"}),
    ("a numeric podref", {"kind": "OverlappingRangeIPReservation", "spec": {"podref": 5}}),
]
JSON_TYPES = {"object": dict, "string": str, "array": list, "boolean": bool,
              "integer": int, "number": (int, float)}


def schema_errors(v, s, path, errs, top=True):
    """What the API server would refuse (type, required) or prune (unknown fields) in v, an
    object at the top of schema s (top) or a value inside one."""
    t = s.get("type")
    if not isinstance(v, JSON_TYPES.get(t, ())) or (t in ("integer", "number") and
                                                   isinstance(v, bool)):
        errs.append(f"{path}: {type(v).__name__}, want {t}")
        return
    if t == "array":
        for i, x in enumerate(v):
            schema_errors(x, s.get("items") or {}, f"{path}[{i}]", errs, False)
    if t != "object":
        return
    for r in s.get("required") or []:
        if r not in v:
            errs.append(f"{path}.{r}: required")
    props = s.get("properties") or {}
    extra = s.get("additionalProperties")
    for k, x in v.items():
        if top and k == "metadata":
            continue  # ObjectMeta: validated by the API server, never pruned
        if k in props:
            schema_errors(x, props[k], f"{path}.{k}", errs, False)
        elif isinstance(extra, dict):
            schema_errors(x, extra, f"{path}.{k}", errs, False)
        elif not s.get("x-kubernetes-preserve-unknown-fields"):
            errs.append(f"{path}.{k}: unknown field, pruned")


def structural_errors(s, path, errs):
    """apiextensions.k8s.io/v1 structural schema rules our CRDs rely on."""
    if "type" not in s:
        errs.append(f"{path}: no type")
    props = s.get("properties") or {}
    if props and "additionalProperties" in s:
        errs.append(f"{path}: both properties and additionalProperties")
    for r in s.get("required") or []:
        if r not in props:
            errs.append(f"{path}: required {r!r} is not a property")
    for k, x in props.items():
        structural_errors(x, f"{path}.{k}", errs)
    if isinstance(s.get("additionalProperties"), dict):
        structural_errors(s["additionalProperties"], f"{path}.*", errs)


def plexus_wb_objects():
    """The objects plexus writes: tests/netns/whereabouts.sh compares the stored objects with
    its *.want documents, and docs/ipam.md shows one."""
    objs = []
    sh = os.path.join(SRC, "tests", "netns", "whereabouts.sh")
    if os.path.exists(sh):
        for name, body in re.findall(r'>"\$TMP/([a-z0-9_.-]+\.want)" <<\'J\'\n(.*?)\nJ\n',
                                     open(sh).read(), re.S):
            objs.append((f"whereabouts.sh {name}", json.loads(body)))
    md = os.path.join(SRC, "docs", "ipam.md")
    if os.path.exists(md):
        for body in re.findall(r"```json\n(\{\"apiVersion\": \"whereabouts.*?)```",
                               open(md).read(), re.S):
            objs.append(("docs/ipam.md example", json.loads(body)))
    return [(w, o) for w, o in objs if str(o.get("apiVersion", "")).startswith("whereabouts.")]


def check_whereabouts_crds(docs):
    crds = {}
    for _, d in docs:
        if d.get("kind") == "CustomResourceDefinition" and \
           str((d.get("metadata") or {}).get("name", "")).endswith(".whereabouts.cni.cncf.io"):
            kind = ((d.get("spec") or {}).get("names") or {}).get("kind")
            crds.setdefault(kind, []).append(d)
    schemas = {}
    for kind, want in WB_CRDS_EXPECTED.items():
        got = crds.get(kind) or []
        result(len(got) == 1, f"the whereabouts {kind} CRD is shipped once", f"found {len(got)}")
        if len(got) != 1:
            continue
        got = strip_descriptions(got[0])
        result(got == want, f"the whereabouts {kind} CRD matches its expected v1 form",
               json.dumps(got, sort_keys=True))
        schema = (((got.get("spec") or {}).get("versions") or [{}])[0].get("schema") or {}) \
            .get("openAPIV3Schema") or {}
        errs = []
        structural_errors(schema, kind, errs)
        problems(f"the whereabouts {kind} CRD's schema is structural", errs)
        schemas[kind] = schema
    if len(schemas) != len(WB_CRDS_EXPECTED):
        return
    ours = plexus_wb_objects()
    kinds = {o.get("kind") for _, o in ours}
    errs = [] if kinds >= set(WB_CRDS_EXPECTED) else [f"found only {sorted(kinds)}"]
    for where, o in ours + [("whereabouts v0.8.1", o) for o in WB_THEIRS]:
        kind = o.get("kind")
        if kind not in schemas or o.get("apiVersion") != KINDS[kind][0]:
            errs.append(f"{where}: {o.get('apiVersion')} {kind} is no whereabouts CRD's")
            continue
        schema_errors(o, schemas[kind], f"{where}: {kind}", errs)
    problems(f"the objects plexus writes ({len(ours)}) and whereabouts writes ({len(WB_THEIRS)}) "
             "validate under the whereabouts CRDs, nothing pruned", errs)
    for what, o in WB_BAD:
        errs = []
        schema_errors(o, schemas[o["kind"]], "", errs)
        result(bool(errs), f"the whereabouts CRDs refuse {what}")


def check_pod_spec(where, spec, objs, errs):
    vols = [v.get("name") for v in spec.get("volumes") or []]
    if len(vols) != len(set(vols)):
        errs.append(f"{where}: duplicate volume names")
    for v in spec.get("volumes") or []:
        cm = v.get("configMap")
        if cm and ("ConfigMap", cm.get("name")) not in objs:
            errs.append(f"{where}: volume {v.get('name')} uses undefined ConfigMap {cm.get('name')}")
        hp = v.get("hostPath")
        if hp and not str(hp.get("path", "")).startswith("/"):
            errs.append(f"{where}: volume {v.get('name')}: hostPath.path not absolute")
    ctrs = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if not spec.get("containers"):
        errs.append(f"{where}: no containers")
    names = [c.get("name") for c in ctrs]
    if len(names) != len(set(names)):
        errs.append(f"{where}: duplicate container names")
    for c in ctrs:
        if not c.get("name") or not c.get("image"):
            errs.append(f"{where}: a container without name or image")
        paths = []
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                errs.append(f"{where}: container {c.get('name')} mounts undefined volume {m.get('name')}")
            paths.append(m.get("mountPath"))
            if not str(m.get("mountPath", "")).startswith("/"):
                errs.append(f"{where}: container {c.get('name')}: mountPath not absolute")
        if len(paths) != len(set(paths)):
            errs.append(f"{where}: container {c.get('name')}: duplicate mountPath")
    sa = spec.get("serviceAccountName")
    ns = None
    if sa and sa != "default" and ("ServiceAccount", sa) not in objs:
        errs.append(f"{where}: serviceAccountName {sa} is not defined")
    return ns


def check_workloads(docs):
    objs = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for _, d in docs}
    errs = []
    for rel, d in docs:
        if d.get("kind") != "DaemonSet":
            continue
        w = ident(rel, d)
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel:
            errs.append(f"{w}: no spec.selector.matchLabels")
        for k, v in sel.items():
            if labels.get(k) != v:
                errs.append(f"{w}: selector {k}={v} does not match the template labels")
        ps = tmpl.get("spec") or {}
        check_pod_spec(w, ps, objs, errs)
        if not ps.get("hostNetwork"):
            errs.append(f"{w}: not hostNetwork (it must run before the pod network exists)")
        if not any(t.get("operator") == "Exists" and not t.get("key")
                   for t in ps.get("tolerations") or []):
            errs.append(f"{w}: does not tolerate every taint")
    for rel, d in docs:
        if d.get("kind") == "Pod":
            check_pod_spec(ident(rel, d), d.get("spec") or {}, objs, errs)
    problems("DaemonSets and Pods: selectors match labels, containers have name+image, "
             "mounts name volumes, ConfigMaps and ServiceAccounts exist", errs)


# Which code runs under which ClusterRole: the plexus service account serves the meta-plugin
# (through plexus-apid's relay or its own credentials), the built-in IPAMs and the node agents;
# plexus-dra has its own (dra.yaml).
ROLE_SOURCES = {
    "plexus": ("lib/kube", "meta", "apid", "whereabouts"),
    "plexus-dra": ("dra",),
}
HTTP_METHODS = r'"(GET|POST|PUT|PATCH|DELETE)"'


def string_macros(files):
    """#define NAME "lit" [NAME2 "lit"...] -> the string it expands to."""
    raw = {}
    for f in files:
        for name, val in re.findall(r'^#define (\w+) ((?:"[^"\n]*"|[A-Z_][A-Z0-9_]*)(?:[ \t]+(?:"[^"\n]*"|[A-Z_][A-Z0-9_]*))*)[ \t]*$',
                                    open(f).read(), re.M):
            raw[name] = re.findall(r'"[^"]*"|[A-Z_][A-Z0-9_]*', val)
    out = {}

    def expand(n, depth=0):
        if n in out or depth > 8:
            return out.get(n)
        parts = []
        for t in raw[n]:
            if t.startswith('"'):
                parts.append(t[1:-1])
            elif t in raw and expand(t, depth + 1) is not None:
                parts.append(out[t])
            else:
                return None
        out[n] = "".join(parts)
        return out[n]
    for n in raw:
        expand(n)
    return out


def path_calls(path, methods):
    """(group, resource, verb) of the methods on one API path (%s for a name)."""
    m = re.match(r"^/api/v1/namespaces/(?:%s|[a-z0-9-]+)/([a-z-]+)(/%s)?(/[a-z]+)?$", path) or \
        re.match(r"^/apis/([a-z0-9.-]+)/v[0-9a-z]+/namespaces/%s/([a-z-]+)(/%s)?(/[a-z]+)?$", path) or \
        re.match(r"^/apis/([a-z0-9.-]+)/v[0-9a-z]+/([a-z-]+)(/%s)?(/[a-z]+)?$", path) or \
        re.match(r"^/api/v1/([a-z-]+)(/%s)?(/[a-z]+)?$", path)
    if not m:
        return {("?", path, "?")}
    if path.startswith("/apis/"):
        group, res, named, sub = m.group(1), m.group(2), m.group(3), m.group(4)
    else:
        group, res, named, sub = "", m.group(1), m.group(2), m.group(3)
    if sub:
        res += sub
    return {(group, res, {"GET": "get" if named else "list", "PATCH": "patch", "PUT": "update",
                          "POST": "create", "DELETE": "delete", "WATCH": "watch"}.get(meth, "?"))
            for meth in methods or {"?"}}


def code_api_calls(dirs):
    """(group, resource, verb) for every API request the C code in dirs makes."""
    calls = set()
    files, headers = [], []
    for d in dirs + ("lib/kube",):
        p = os.path.join(SRC, d)
        if os.path.isdir(p):
            names = sorted(os.listdir(p))
            headers += [os.path.join(p, f) for f in names if f.endswith((".c", ".h"))]
            if d in dirs:
                files += [os.path.join(p, f) for f in names if f.endswith(".c")]
    macros = string_macros(headers)
    for f in files:
        text = re.sub(r"^#define .*$", "", open(f).read(), flags=re.M)
        # Macros that are string literals expand in place; adjacent literals join.
        text = re.sub(r'\b([A-Z_][A-Z0-9_]*)\b(?=\s*")',
                      lambda m: '"%s"' % macros[m.group(1)] if m.group(1) in macros else m.group(1),
                      text)
        text = re.sub(r'\b([A-Z_][A-Z0-9_]*)\b(?=\s*[,)])',
                      lambda m: '"%s"' % macros[m.group(1)] if m.group(1) in macros
                      and macros[m.group(1)].startswith("/api") else m.group(1), text)
        text = re.sub(r'"\s*"', "", text)
        file_methods = set(re.findall(HTTP_METHODS, text))
        # One function body at a time: the path and the method are set in the same function.
        for body in re.split(r"\n}\n", text):
            paths = re.findall(r'"(/apis?/[^"]*)"', body)
            if not paths:
                continue
            # `v = xasprintf("/apis/...", ...)` then `call(..., "PUT", v, ...)`: exact pairs.
            var = dict(re.findall(r'(\w+) =\s*xasprintf\("(/apis?/[^"]*)"', body))
            for v, base in re.findall(r'(\w+) =\s*xasprintf\("%s/%s",\s*(\w+),', body):
                if base in var:
                    var[v] = var[base] + "/%s"
            pairs = [(meth, var[v]) for meth, v in
                     re.findall(r'\w+\([^;()]*?' + HTTP_METHODS + r',\s*(\w+)\s*,', body)
                     if v in var]
            if pairs:
                for meth, path in pairs:
                    calls |= path_calls(path, {meth})
                continue
            methods = set(re.findall(r'\.method\s*=\s*"([A-Z]+)"', body)) or \
                set(re.findall(HTTP_METHODS, body))
            if "kube_get_object(" in body or "kube_list(" in body:
                methods.add("GET")
            if not methods or re.search(r"const char \*method\b", body):
                methods |= file_methods  # the method comes from the caller: any this file names
            # lib/kube/watch.h: LIST, then WATCH, of a collection across namespaces.
            watched = "kube_watch_run(" in body
            for path in paths:
                w = re.match(r"^/api/v1/([a-z-]+)$", path)
                if watched and w:
                    calls |= {("", w.group(1), "list"), ("", w.group(1), "watch")}
                    continue
                calls |= path_calls(path, methods)
    return calls


def check_rbac(docs):
    roles = {(d.get("metadata") or {}).get("name"): d for _, d in docs
             if d.get("kind") == "ClusterRole"}
    result(set(roles) == set(ROLE_SOURCES), "the ClusterRoles are plexus's and plexus-dra's",
           f"found {sorted(roles)}")
    objs = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for _, d in docs}
    for role_name, dirs in ROLE_SOURCES.items():
        calls = code_api_calls(dirs)
        result(calls and all("?" not in c for c in calls),
               f"{role_name}: API calls found in {', '.join(dirs)}: {sorted(calls)}",
               "unrecognised path or method")
        if role_name not in roles:
            continue
        granted = set()
        errs = []
        # Namespaced grants (a Lease in one namespace) come from Roles bound to the same account.
        accounts = {(s.get("name"), s.get("namespace")) for _, d in docs
                    if d.get("kind") == "ClusterRoleBinding"
                    and (d.get("roleRef") or {}).get("name") == role_name
                    for s in d.get("subjects") or []}
        bound = {(d.get("roleRef") or {}).get("name") for _, d in docs
                 if d.get("kind") == "RoleBinding" and (d.get("roleRef") or {}).get("kind") == "Role"
                 and any((s.get("name"), s.get("namespace")) in accounts
                         for s in d.get("subjects") or [])}
        rules = [(False, r) for r in roles[role_name].get("rules") or []] + \
            [(True, r) for _, d in docs if d.get("kind") == "Role"
             and (d.get("metadata") or {}).get("name") in bound for r in d.get("rules") or []]
        for in_role, r in rules:
            for x in ("apiGroups", "resources", "verbs"):
                if "*" in (r.get(x) or []):
                    errs.append(f"wildcard in {x}")
            # resourceNames narrow a grant: allowed in a namespaced Role and on DRA's
            # per-driver synthetic subresource, where the name is the driver.
            named_ok = in_role or r.get("resources") == ["resourceclaims/driver"]
            if (r.get("resourceNames") and not named_ok) or r.get("nonResourceURLs"):
                errs.append("unexpected resourceNames/nonResourceURLs")
            for g in r.get("apiGroups") or []:
                for res in r.get("resources") or []:
                    for v in r.get("verbs") or []:
                        granted.add((g, res, v))
        missing = calls - granted
        extra = granted - calls - set(RBAC_EXTRA)
        if missing:
            errs.append(f"missing {sorted(missing)}")
        if extra:
            errs.append(f"more than the code needs {sorted(extra)}")
        problems(f"ClusterRole {role_name} grants exactly the calls the code makes "
                 "(least privilege)", errs)
        errs = []
        bindings = [d for _, d in docs if d.get("kind") == "ClusterRoleBinding"
                    and (d.get("roleRef") or {}).get("name") == role_name]
        if len(bindings) != 1:
            errs.append(f"{len(bindings)} bindings of ClusterRole {role_name}")
        for b in bindings:
            ref = b.get("roleRef") or {}
            if ref.get("kind") != "ClusterRole" or \
               ref.get("apiGroup") != "rbac.authorization.k8s.io":
                errs.append("roleRef kind/apiGroup")
            for sub in b.get("subjects") or []:
                sa = objs.get(("ServiceAccount", sub.get("name")))
                if sub.get("kind") != "ServiceAccount" or not sa or \
                   (sa.get("metadata") or {}).get("namespace") != sub.get("namespace"):
                    errs.append(f"subject {sub} is not a ServiceAccount defined here")
                else:
                    users = [d for _, d in docs if d.get("kind") == "DaemonSet" and
                             ((d.get("spec") or {}).get("template") or {}).get("spec", {})
                             .get("serviceAccountName") == sub.get("name")]
                    if not users:
                        errs.append(f"no DaemonSet runs as {sub.get('name')}")
        problems(f"ClusterRoleBinding binds {role_name} to its DaemonSet's ServiceAccount", errs)


def plugin_list(conf):
    if "plugins" in conf:
        return conf["plugins"] if isinstance(conf["plugins"], list) else None
    return [conf]


def check_nads(docs):
    nads = {}
    errs = []
    resources = device_plugin_resources(docs)
    for rel, d in docs:
        if d.get("kind") != "NetworkAttachmentDefinition":
            continue
        md = d["metadata"]
        key = (md.get("namespace", "default"), md["name"])
        w = ident(rel, d)
        nads[key] = d
        if not DNS_LABEL.match(md["name"]) or len(md["name"]) > 63:
            errs.append(f"{w}: name is not a DNS-1123 label (NPWG spec v1.3 §3.3)")
        cfg = (d.get("spec") or {}).get("config")
        if not isinstance(cfg, str):
            errs.append(f"{w}: spec.config missing or not a string")
            continue
        try:
            conf = json.loads(cfg)
        except ValueError as e:
            errs.append(f"{w}: spec.config is not JSON: {e}")
            continue
        if not isinstance(conf, dict):
            errs.append(f"{w}: spec.config is not an object")
            continue
        if conf.get("name") not in (None, md["name"]):
            errs.append(f"{w}: config name {conf.get('name')!r} differs from the NAD's")
        if conf.get("cniVersion") not in CNI_VERSIONS:
            errs.append(f"{w}: cniVersion {conf.get('cniVersion')!r}")
        pl = plugin_list(conf)
        if not pl:
            errs.append(f"{w}: neither type nor a plugins list")
            continue
        types = set()
        for p in pl:
            t = p.get("type") if isinstance(p, dict) else None
            types.add(t)
            if not isinstance(t, str) or not (t in BUILTIN_TYPES or
                                              (t.startswith("plexus-") and t[7:] in BUILTIN_TYPES)):
                errs.append(f"{w}: plugin type {t!r} is not a plexus plugin")
            ipam = p.get("ipam") if isinstance(p, dict) else None
            if ipam is not None and ipam.get("type") not in IPAM_TYPES:
                errs.append(f"{w}: ipam type {ipam.get('type')!r}")
        rn = (md.get("annotations") or {}).get("k8s.v1.cni.cncf.io/resourceName")
        is_sriov = any(str(t).removeprefix("plexus-") == "sriov" for t in types)
        if is_sriov and not rn:
            errs.append(f"{w}: sriov NAD without the resourceName annotation")
        if rn and rn not in resources:
            errs.append(f"{w}: resourceName {rn} is not a pool of the device plugin config")
    problems(f"example NADs: names, spec.config JSON, plexus plugin types, resourceName ({len(nads)})", errs)
    return nads


def device_plugin_resources(docs):
    res = set()
    for _, d in docs:
        if d.get("kind") == "ConfigMap" and "device-plugin.json" in (d.get("data") or {}):
            for r in json.loads(d["data"]["device-plugin.json"]).get("resourceList", []):
                res.add(f"{r.get('resourcePrefix', 'intel.com')}/{r['resourceName']}")
    return res


def parse_networks(s):
    s = s.strip()
    if s.startswith("["):
        return [(e.get("namespace"), e["name"]) for e in json.loads(s)]
    out = []
    for item in s.split(","):
        item = item.strip().split("@")[0]
        ns, _, name = item.rpartition("/")
        out.append((ns or None, name))
    return out


def check_pods(docs, nads):
    errs = []
    forms = set()
    n = 0
    for rel, d in docs:
        if d.get("kind") != "Pod":
            continue
        md = d["metadata"]
        w = ident(rel, d)
        ann = (md.get("annotations") or {}).get("k8s.v1.cni.cncf.io/networks")
        if not ann:
            continue
        n += 1
        forms.add("json" if ann.strip().startswith("[") else "short")
        try:
            refs = parse_networks(ann)
        except (ValueError, KeyError, AttributeError) as e:
            errs.append(f"{w}: bad networks annotation: {e}")
            continue
        res = {}
        for c in (d.get("spec") or {}).get("containers") or []:
            res.update(((c.get("resources") or {}).get("limits")) or {})
        for ns, name in refs:
            key = (ns or md.get("namespace", "default"), name)
            if key not in nads:
                errs.append(f"{w}: references undefined NAD {key[0]}/{key[1]}")
                continue
            rn = (nads[key]["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/resourceName")
            if rn and rn not in res:
                errs.append(f"{w}: uses {name} but does not request {rn}")
    if n == 0:
        errs.append("no example pod with a networks annotation")
    if forms != {"json", "short"}:
        errs.append(f"annotation forms shown: {sorted(forms)}, want both json and short")
    problems(f"example pods reference existing NADs and request their resources ({n})", errs)


def check_install_args(docs):
    errs = []
    ds = [d for _, d in docs if d.get("kind") == "DaemonSet" and d["metadata"]["name"] == "plexus"]
    if not ds:
        problems("the plexus DaemonSet runs plexus-install with real options", ["no DaemonSet plexus"])
        return
    c = ds[0]["spec"]["template"]["spec"]["containers"][0]
    cmd = " ".join((c.get("command") or []) + (c.get("args") or []))
    if "plexus-install" not in cmd:
        errs.append("the container does not run plexus-install")
    opts = set(re.findall(r"(--[a-z-]+)", cmd))
    for _, d in docs:
        if d.get("kind") == "ConfigMap" and "install-args" in (d.get("data") or {}):
            opts |= set(re.findall(r"^(--[a-z-]+)", d["data"]["install-args"], re.M))
    if INSTALL_BIN:
        helptext = subprocess.run([INSTALL_BIN, "--help"], capture_output=True, text=True).stdout
        known = set(re.findall(r"(--[a-z-]+)", helptext))
        for o in sorted(opts - known):
            errs.append(f"{o} is not an option of plexus-install")
    problems("the plexus DaemonSet runs plexus-install with options it has"
             + ("" if INSTALL_BIN else " (options not checked: no PLEXUS_INSTALL_BIN)"), errs)


def check_kustomization(docs):
    errs = []
    try:
        with open(os.path.join(CRDS, KUSTOMIZATION)) as fh:
            k = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as e:
        problems("kustomization.yaml lists the manifests and names the image", [str(e)])
        return
    if k.get("kind") != "Kustomization":
        errs.append("kustomization.yaml: kind is not Kustomization")
    top = sorted(n for n in os.listdir(CRDS) if n.endswith(".yaml") and n != KUSTOMIZATION
                 and n not in KUSTOMIZATION_OPTIONAL)
    if sorted(k.get("resources") or []) != top:
        errs.append(f"resources {k.get('resources')} are not the manifests {top}")
    images = k.get("images") or []
    if len(images) != 1 or not images[0].get("newTag"):
        errs.append("images: want exactly one entry with a newTag")
    name = images[0].get("name") if images else None
    n = 0
    for rel, d in docs:
        if d.get("kind") != "DaemonSet":
            continue
        for c in d["spec"]["template"]["spec"].get("containers") or []:
            n += 1
            if c.get("image") != name:
                errs.append(f"{ident(rel, d)}: container {c.get('name')} image "
                            f"{c.get('image')!r} is not {name!r} (the kustomization's)")
            if "/usr/lib/plexus/" not in " ".join((c.get("command") or []) + (c.get("args") or [])):
                errs.append(f"{ident(rel, d)}: container {c.get('name')} runs no plexus binary")
    problems(f"kustomization.yaml lists every manifest and names the image of all {n} "
             "plexus containers", errs)


def main():
    docs = load_all()
    check_kustomization(docs)
    check_kinds(docs)
    check_crd(docs)
    check_whereabouts_crds(docs)
    check_workloads(docs)
    check_rbac(docs)
    nads = check_nads(docs)
    check_pods(docs, nads)
    check_install_args(docs)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
