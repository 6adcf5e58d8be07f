"""Loading the workflow profiles (applet-spec/profiles/*.yaml): YAML checked against its JSON Schema, every error
naming the file and the field, e.g. `bootstrap.yaml: pcid.mcc: '1' does not match '^[0-9]{3}$'`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import BadInput

PROFILES = Path(__file__).resolve().parents[3] / "applet-spec" / "profiles"


@lru_cache(maxsize=4)
def _validator(schema: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((PROFILES / schema).read_text(encoding="utf-8")))


def load_checked(path: str | Path, schema: str) -> dict[str, Any]:
    where = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read profile ({exc.strerror})", where=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BadInput(f"not YAML: {getattr(exc, 'problem', exc)}",
                       where=f"{where}:{mark.line + 1}" if mark else where) from None
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(doc))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise BadInput(error.message, where=f"{where}: {field}", expected=f"a value {schema} allows")
    return doc
