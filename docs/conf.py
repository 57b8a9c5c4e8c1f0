"""Sphinx configuration of the skgd documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
after ``pip install ".[docs]"``; the gallery examples in ``examples/`` are
executed by the build and their figures generated.
"""

import importlib.metadata
import os
import sys

from threadpoolctl import threadpool_limits

import skgd

# The gallery examples run in this process. One BLAS thread: the times they
# print then compare algorithms (skgd's kernels are serial), and a machine
# that is busy with other work is not oversubscribed.
threadpool_limits(limits=1)

project = "skgd"
author = "the skgd developers"
copyright = "the skgd developers, BSD-3-Clause"
release = importlib.metadata.version("skgd")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
# No network: no intersphinx (an unreachable inventory is a warning, and
# warnings fail the build). References to scikit-learn are plain text.
intersphinx_mapping = {}

# ---- API reference: the public classes of skgd.__all__ at build time --------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# a parameter documented but absent (or the reverse) fails the build
numpydoc_validation_checks = {"PR01", "PR02"}
numpydoc_validation_exclude = {r"\.set_\w+_request$"}


def _write_api_page(app=None):
    """docs/api.rst lists what ``skgd.__all__`` exports (regenerated per build)."""
    names = [n for n in skgd.__all__ if not n.startswith("_")]
    estimators = [n for n in names if n.startswith("GD")]
    displays = [n for n in names if n.endswith("Display")]
    others = [n for n in names if n not in estimators + displays]
    lines = [
        ".. This file is written by conf.py from skgd.__all__; do not edit.",
        "",
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        ".. currentmodule:: skgd",
        "",
    ]
    for title, group in (
        ("Estimators", estimators),
        ("Plotting", displays),
        ("Other", others),
    ):
        if not group:
            continue
        lines += [
            title,
            "-" * len(title),
            "",
            ".. autosummary::",
            "   :toctree: generated/",
            "   :template: class.rst",
            "",
        ]
        lines += [f"   {name}" for name in group] + [""]
    lines += [
        "Command line",
        "------------",
        "",
        "``python -m skgd`` runs the demo (see :ref:`getting_started`);",
        "``python -m skgd --help`` lists its options.",
        "",
    ]
    text = "\n".join(lines)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api.rst")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


_write_api_page()


# ---- gallery ----------------------------------------------------------------
class ExampleOrder:
    """Sort key of the gallery: from the basics (solvers, schedules) to uses."""

    ORDER = [
        "plot_solvers_loss_curves.py",
        "plot_learning_rate_schedules.py",
        "plot_early_stopping.py",
        "plot_sparse_text_classification.py",
        "plot_grid_search_pipeline.py",
        "plot_out_of_core.py",
    ]

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        # unlisted examples go last, by name
        rank = self.ORDER.index(filename) if filename in self.ORDER else len(self.ORDER)
        return (rank, filename)


# sphinx-gallery resolves "conf.ExampleOrder" by importing this file
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skgd",),
    "backreferences_dir": "generated",
    "reference_url": {"skgd": None},
    # from the basics (the solvers, the schedules) to the use cases
    "within_subsection_order": "conf.ExampleOrder",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "image_scrapers": ("matplotlib",),
}

# ---- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skgd {release}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path = []
html_show_sourcelink = False
