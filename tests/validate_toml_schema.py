#!/usr/bin/env python3
"""Validates TOML files against a JSON Schema (tests/schema_test.cc).

usage: validate_toml_schema.py SCHEMA.json FILE.toml...

Checks the schema itself against its draft's meta-schema first, then each
file; prints one line per problem and exits 1 if there was any. A missing
jsonschema module is an error (exit 3), never a silent pass.
"""
import json
import sys
import tomllib

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed (scripts/setup.sh installs it)", file=sys.stderr)
    sys.exit(3)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)  # raises SchemaError if it is not a valid schema
    validator = cls(schema)
    bad = 0
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path) or "(root)"
            print(f"{path}: {where}: {err.message}")
            bad += 1
        print(f"{path}: checked with {cls.__name__}")
    sys.exit(1 if bad else 0)


main()
