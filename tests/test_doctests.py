"""The Examples sections of the public docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "skgd._regression",
    "skgd._least_squares",
    "skgd._classification",
    "skgd._plotting",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    pytest.importorskip("matplotlib")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
