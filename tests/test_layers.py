"""The import-linter contracts are strict: every layer they name is a module that exists."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layer_modules(contract: dict[str, Any]) -> list[str]:
    names = [name.strip() for layer in contract["layers"] for name in layer.split("|")]
    containers = contract.get("containers") or [""]
    return [f"{c}.{n}" if c else n for c in containers for n in names]


def test_no_layer_is_optional() -> None:
    for contract in _contracts():
        for layer in contract.get("layers", []):
            assert "(" not in layer, f"{contract['name']}: optional layer {layer}"


def test_every_layer_names_a_module_that_exists() -> None:
    for contract in _contracts():
        if contract["type"] != "layers":
            continue
        for module in _layer_modules(contract):
            assert importlib.util.find_spec(module) is not None, (contract["name"], module)
