"""Fuzz targets as modules for the tests: ``fuzz/`` is a folder of scripts, not a package."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache

from harness.fuzz import Layout, Target, default_layout


@cache
def layout() -> Layout:
    return default_layout()


@cache
def fuzz_one_input(target: Target) -> Callable[[bytes], None]:
    """The target's ``fuzz_one_input``, imported from its script once per session."""
    path = layout().script(target)
    spec = importlib.util.spec_from_file_location(f"fuzz_target_{target.name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Callable[[bytes], None] = module.fuzz_one_input
    return function
