#!/usr/bin/env python3
"""The oracle of tests/libxml2.rs: what XPath 1.0 says a batch of rules gives, through libxml2.

    python3 tests/libxml2/oracle.py JOB.json > EXPECTED.json

JOB.json: {"namespaces": {prefix: uri}, "docs": [path, ...], "rules": [rule, ...]}, each rule
{"name", "kind", "select", "value", "field"} with `kind` one of

- "document": `value` evaluated on the document, one sample without labels;
- "count": the nodes `select` gives, grouped by the string value of `field` (relative to each
  node) as the label `v` (no label when it is empty), one sample per group with their number;
- "sum": the same groups, the sum of `value` (relative to each node) over each group's nodes;
- "first": the same groups, the value of the group's first node in document order.

Output: {"docs": [{"error": null or a message, "samples": [[name, {label: value}, number]]}]},
numbers written as Python's repr of the float, or "NaN", "+Inf", "-Inf". Documents are parsed
as xml2prom reads them: no DTD loading, no entity expansion beyond the predefined ones, no
network, CDATA merged into text, whitespace kept.
"""

import json
import math
import sys

from lxml import etree


def number_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def as_number(result, query: str) -> float:
    # A value query must give a number or a boolean; anything else is a generator bug.
    if isinstance(result, bool):
        return 1.0 if result else 0.0
    if isinstance(result, float):
        return result
    raise ValueError(f"`{query}` gave {type(result).__name__}, not a number")


# The fields the generator gives a rule that selects attributes, as queries on the attribute's
# element; `{a}` is the attribute's step (`@k`, `@p:k`).
ATTRIBUTE_FIELDS = {
    ".": "string({a})",
    "name()": "name({a})",
    "local-name()": "local-name({a})",
    "namespace-uri()": "namespace-uri({a})",
    "string(..)": "string(.)",
    "name(..)": "name(.)",
    "string-length(.)": "string(string-length({a}))",
    "concat(., '|')": "concat({a}, '|')",
    "translate(., ' ', '_')": "translate({a}, ' ', '_')",
    "normalize-space(.)": "normalize-space({a})",
}


def attribute_step(attrname: str, namespaces: dict) -> str:
    """`k` -> `@k`; `{urn:p}k` -> `@p:k` with the job's prefix for that namespace."""
    if attrname.startswith("{"):
        uri, local = attrname[1:].split("}", 1)
        prefix = next(p for p, u in namespaces.items() if u == uri)
        return f"@{prefix}:{local}"
    return f"@{attrname}"


def evaluate(tree, rule: dict, namespaces: dict) -> list:
    def xpath(context, query):
        return context.xpath(query, namespaces=namespaces)

    name = rule["name"]
    if rule["kind"] == "document":
        return [[name, {}, number_text(as_number(xpath(tree, rule["value"]), rule["value"]))]]
    groups: dict[str, list[float]] = {}
    for node in xpath(tree, rule["select"]):
        if getattr(node, "is_attribute", False):
            # lxml cannot evaluate a query with an attribute as its context node: the fields
            # for selected attributes are written as queries on the attribute's element.
            label = xpath(node.getparent(), ATTRIBUTE_FIELDS[rule["field"]].format(
                a=attribute_step(node.attrname, namespaces)))
            groups.setdefault(label, []).append(1.0)
            continue
        label = xpath(node, f"string({rule['field']})")
        value = 1.0
        if rule["kind"] in ("sum", "first"):
            value = as_number(xpath(node, rule["value"]), rule["value"])
        groups.setdefault(label, []).append(value)
    samples = []
    for label, values in groups.items():
        if rule["kind"] == "count":
            total = float(len(values))
        elif rule["kind"] == "sum":
            total = 0.0
            for value in values:
                total += value
        else:
            total = values[0]
        samples.append([name, {"v": label} if label else {}, number_text(total)])
    return samples


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as job_file:
        job = json.load(job_file)
    namespaces = job["namespaces"]
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    docs = []
    for path in job["docs"]:
        try:
            tree = etree.parse(path, parser)
        except etree.XMLSyntaxError as error:
            docs.append({"error": f"not well-formed: {error}", "samples": []})
            continue
        samples = []
        for rule in job["rules"]:
            samples.extend(evaluate(tree, rule, namespaces))
        docs.append({"error": None, "samples": samples})
    json.dump({"docs": docs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
