"""A minimal JSON Schema (draft 2020-12) validator for the subset docs/protocol.schema.json uses.

Keywords: type, properties, required, additionalProperties, enum, const, items, oneOf, anyOf,
$ref (local, ``#/$defs/...``), minimum, maximum, minLength, pattern; annotations ($schema,
$id, title, description, default, x-*) are ignored. Any other keyword is an error, so the
schema cannot drift outside what this checks.
"""

import re

ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "$defs", "examples"}
KNOWN = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "items",
    "oneOf", "anyOf", "$ref", "minimum", "maximum", "minLength", "pattern",
}


class SchemaError(Exception):
    """The schema uses something this validator does not know."""


def _is_type(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise SchemaError("unknown type %r" % t)


def _equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Validator:
    """Validates instances against (parts of) one root schema."""

    def __init__(self, root):
        self.root = root

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise SchemaError("only local $refs are supported: %r" % ref)
        node = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[part]
        return node

    def errors(self, instance, schema=None, path="$"):
        """Every error of ``instance`` against ``schema`` (default: the root), as strings."""
        if schema is None:
            schema = self.root
        out = []
        self._check(instance, schema, path, out)
        return out

    def validate(self, instance, schema=None, what="instance"):
        """Raise AssertionError listing the errors, if any."""
        errs = self.errors(instance, schema)
        if errs:
            raise AssertionError("%s does not match the schema:\n  %s\n%r" % (what, "\n  ".join(errs[:20]), instance))

    def _check(self, v, s, path, out):
        if s is True:
            return
        if s is False:
            out.append("%s: not allowed" % path)
            return
        for k in s:
            if k not in KNOWN and k not in ANNOTATIONS and not k.startswith("x-"):
                raise SchemaError("keyword %r is outside the supported subset" % k)
        if "$ref" in s:
            self._check(v, self.resolve(s["$ref"]), path, out)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_is_type(v, t) for t in types):
                out.append("%s: %r is not of type %s" % (path, v, "/".join(types)))
                return
        if "const" in s and not _equal(v, s["const"]):
            out.append("%s: %r is not %r" % (path, v, s["const"]))
        if "enum" in s and not any(_equal(v, e) for e in s["enum"]):
            out.append("%s: %r is not one of %s" % (path, v, s["enum"][:12]))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "minimum" in s and v < s["minimum"]:
                out.append("%s: %r < minimum %r" % (path, v, s["minimum"]))
            if "maximum" in s and v > s["maximum"]:
                out.append("%s: %r > maximum %r" % (path, v, s["maximum"]))
        if isinstance(v, str):
            if "minLength" in s and len(v) < s["minLength"]:
                out.append("%s: %r shorter than %d" % (path, v, s["minLength"]))
            if "pattern" in s and not re.search(s["pattern"], v):
                out.append("%s: %r does not match %r" % (path, v, s["pattern"]))
        if isinstance(v, dict):
            props = s.get("properties", {})
            for r in s.get("required", []):
                if r not in v:
                    out.append("%s: required %r missing" % (path, r))
            for k, item in v.items():
                if k in props:
                    self._check(item, props[k], "%s.%s" % (path, k), out)
                elif "additionalProperties" in s:
                    ap = s["additionalProperties"]
                    if ap is False:
                        out.append("%s: unexpected property %r" % (path, k))
                    else:
                        self._check(item, ap, "%s.%s" % (path, k), out)
        if isinstance(v, list) and "items" in s:
            for i, item in enumerate(v):
                self._check(item, s["items"], "%s[%d]" % (path, i), out)
        if "anyOf" in s:
            results = [self.errors(v, sub, path) for sub in s["anyOf"]]
            if all(results):
                out.append("%s: matches no anyOf branch (%s)" % (path, "; ".join(r[0] for r in results)))
        if "oneOf" in s:
            results = [self.errors(v, sub, path) for sub in s["oneOf"]]
            n = sum(1 for r in results if not r)
            if n != 1:
                best = min(results, key=len) if n == 0 else []
                out.append("%s: matches %d oneOf branches, not 1%s" % (path, n, (" (closest: %s)" % "; ".join(best[:3])) if best else ""))
