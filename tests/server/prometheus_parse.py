"""Parses a Prometheus text exposition (the file named by argv[1]) with the Prometheus
client's own parser and prints it as JSON for the C++ tests: {"families": {name: type},
"samples": [{"name", "labels", "value"}]}. A text the parser refuses exits non-zero."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
families = {}
samples = []
for family in text_string_to_metric_families(text):
    families[family.name] = family.type
    for s in family.samples:
        value = s.value
        if math.isinf(value):
            value = "+Inf" if value > 0 else "-Inf"
        samples.append({"name": s.name, "labels": s.labels, "value": value})
json.dump({"families": families, "samples": samples}, sys.stdout)
