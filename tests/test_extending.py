"""The homes of a loss agree, and the user guide's "Extending skgd" holds.

A loss has one spec in ``skgd/_losses.py`` and one enum value plus one
branch in ``skgd/_fast/_loss.pxd`` (the kernels switch on the code); the
tests keep an independent copy in ``tests/reference.py``.  These tests read
the enum from the ``.pxd`` source and check that the three name the same
losses with the same codes, then follow the worked example of the user
guide (the pseudo-Huber loss) as far as it goes without recompiling: its
spec entry builds, its enum value and spec keep the tables in agreement, and
the documented kernel branch's derivative and curvature bound are right
(finite differences).
"""

import dataclasses
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from reference import CLASSIFICATION_LOSSES, LOSS_CODES, REGRESSION_LOSSES

import skgd._losses as losses_module
from skgd._losses import LOSSES, Loss

ROOT = Path(__file__).resolve().parents[1]
PXD = ROOT / "skgd" / "_fast" / "_loss.pxd"
GUIDE = ROOT / "docs" / "user_guide.rst"


# ---- reading the sources ---------------------------------------------------------


def enum_codes(pxd_text):
    """``{NAME: value}`` of the (single) ``cdef enum:`` block of a .pxd text."""
    match = re.search(r"^cdef enum:\n((?:[ \t]+\S.*\n|\n)+)", pxd_text, re.MULTILINE)
    assert match, "no 'cdef enum:' block"
    codes = {}
    for line in match.group(1).splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, value = (part.strip() for part in line.split("="))
            codes[name] = int(value)
    return codes


def check_codes_agree(enum, specs, reference=None):
    """Raise AssertionError unless enum, specs (and reference) agree both ways."""
    from_specs = {spec.name.upper(): spec.code for spec in specs.values()}
    missing = sorted(set(from_specs) - set(enum))
    extra = sorted(set(enum) - set(from_specs))
    assert not missing, f"losses with a spec but no enum value in _loss.pxd: {missing}"
    assert not extra, f"enum values of _loss.pxd without a spec: {extra}"
    wrong = {name: (code, enum[name]) for name, code in from_specs.items()
             if enum[name] != code}
    assert not wrong, f"codes differ (spec, enum): {wrong}"
    assert all(spec.name == name for name, spec in specs.items())
    if reference is not None:
        assert reference == {spec.name: spec.code for spec in specs.values()}, (
            "tests/reference.py's LOSS_CODES differ from the specs"
        )


def guide_blocks(language):
    """The bodies of the ``.. code-block:: <language>`` blocks of the
    "Extending skgd" section of the user guide, in order."""
    text = GUIDE.read_text()
    section = text[text.index(".. _extending:"):]
    pattern = rf"\.\. code-block:: {language}\n\n((?:    .*\n|\n)+)"
    return [textwrap.dedent(body).strip() for body in re.findall(pattern, section)]


def cython_branch(source):
    """A Python function ``(y, p, epsilon) -> (value, grad)`` from one
    ``elif loss == NAME:`` branch of ``point_loss_grad``."""
    lines = source.splitlines()
    assert re.match(r"elif loss == [A-Z_]+:$", lines[0]), lines[0]
    body = textwrap.indent(textwrap.dedent("\n".join(lines[1:])), "    ")
    namespace = {"sqrt": math.sqrt, "fabs": abs, "exp": math.exp,
                 "log": math.log, "log1p": math.log1p}
    exec("def point(y, p, epsilon, grad):\n" + body, namespace)

    def point(y, p, epsilon):
        grad = [math.nan]
        value = namespace["point"](y, p, epsilon, grad)
        return value, grad[0]

    return point


# ---- the tables agree -------------------------------------------------------------


def test_pxd_enum_equals_the_loss_specs_and_the_reference():
    check_codes_agree(enum_codes(PXD.read_text()), LOSSES, LOSS_CODES)


def test_agreement_check_fails_on_a_missing_extra_or_moved_loss():
    enum = enum_codes(PXD.read_text())
    missing = {k: v for k, v in enum.items() if k != "HINGE"}
    with pytest.raises(AssertionError, match="no enum value.*HINGE"):
        check_codes_agree(missing, LOSSES)
    with pytest.raises(AssertionError, match="without a spec.*CAUCHY"):
        check_codes_agree({**enum, "CAUCHY": 10}, LOSSES)
    with pytest.raises(AssertionError, match="codes differ"):
        check_codes_agree({**enum, "HINGE": 11}, LOSSES)
    with pytest.raises(AssertionError, match="LOSS_CODES"):
        check_codes_agree(enum, LOSSES, {**LOSS_CODES, "hinge": 11})


def test_the_estimators_accept_the_losses_of_their_target_kind():
    assert set(losses_module.REGRESSION_LOSSES) == set(REGRESSION_LOSSES)
    assert set(losses_module.CLASSIFICATION_LOSSES) == set(CLASSIFICATION_LOSSES)
    for spec in LOSSES.values():
        assert spec.target in losses_module.TARGET_KINDS
        assert spec.smooth == (spec.curvature is not None)
        if spec.multiclass is not None:
            assert LOSSES[spec.multiclass].target == "probability"


# ---- the worked example of the user guide ------------------------------------


def test_guide_lists_every_field_of_the_spec():
    text = GUIDE.read_text()
    section = text[text.index(".. _extending:"):]
    table = section[section.index("====================  ===="):]
    documented = re.findall(r"^``(\w+)``", table, re.MULTILINE)
    documented = documented[: documented.index("multiclass") + 1]
    assert documented == [field.name for field in dataclasses.fields(Loss)]


def test_guide_lists_files_that_exist():
    text = GUIDE.read_text()
    section = text[text.index(".. _extending:"):text.index("The spec is all")]
    files = re.findall(r"^``([\w/.]+)``", section, re.MULTILINE)
    assert files == ["skgd/_losses.py", "skgd/_fast/_loss.pxd", "tests/reference.py"]
    assert all((ROOT / name).exists() for name in files)


def example():
    """The spec, enum line and kernel branch of the guide's worked example."""
    spec_source, reference_source = guide_blocks("python")
    enum_line, branch = guide_blocks("cython")
    spec = eval(spec_source.rstrip(","), {"Loss": Loss})
    return spec, enum_line, branch, reference_source


def test_example_spec_extends_the_registry_consistently():
    spec, enum_line, _, _ = example()
    assert isinstance(spec, Loss) and spec.name not in LOSSES
    assert spec.code == max(s.code for s in LOSSES.values()) + 1
    registry = {**LOSSES, spec.name: spec}
    reference = {**LOSS_CODES, spec.name: spec.code}
    # the enum value of the guide, added at the end of the pxd's enum block
    pxd = PXD.read_text()
    last = "    MULTINOMIAL = 9\n"
    assert last in pxd
    extended = pxd.replace(last, last + "    " + enum_line + "\n")
    check_codes_agree(enum_codes(extended), registry, reference)
    # ... and without it, the check names the missing value
    with pytest.raises(AssertionError, match="PSEUDO_HUBER"):
        check_codes_agree(enum_codes(pxd), registry, reference)
    # a regression loss: GDRegressor and GDClassifier would accept it
    assert spec.target == "real" and spec.uses_epsilon and spec.smooth


@pytest.mark.parametrize("epsilon", [0.1, 1.0, 3.0])
def test_example_branch_derivative_and_curvature(epsilon):
    spec, _, branch, _ = example()
    point = cython_branch(branch)
    y = 0.7
    h = 1e-6
    for p in np.linspace(-5.0, 5.0, 41):
        value, grad = point(y, p, epsilon)
        # the documented formula of the value
        r = p - y
        formula = epsilon**2 * (math.sqrt(1 + (r / epsilon) ** 2) - 1)
        assert value == pytest.approx(formula)
        # the derivative is the derivative of the value
        up, down = point(y, p + h, epsilon), point(y, p - h, epsilon)
        numeric = (up[0] - down[0]) / (2 * h)
        assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-8)
        # the spec's curvature bounds the second derivative
        second = (up[1] - down[1]) / (2 * h)
        assert second <= spec.curvature * (1 + 1e-6)


def test_example_reference_formula_matches_the_branch():
    _, _, branch, reference_source = example()
    point = cython_branch(branch)
    lines = reference_source.splitlines()
    assert lines[0] == 'elif loss == "pseudo_huber":'
    namespace = {"np": np}
    body = textwrap.indent(textwrap.dedent("\n".join(lines[1:])), "    ")
    exec("def formula(r, epsilon):\n" + body + "\n    return values, grad", namespace)
    y, P, epsilon = 0.3, np.linspace(-4.0, 4.0, 17), 0.5
    values, grad = namespace["formula"](P - y, epsilon)
    expected = np.array([point(y, p, epsilon) for p in P])
    np.testing.assert_allclose(values, expected[:, 0], rtol=1e-12)
    np.testing.assert_allclose(grad, expected[:, 1], rtol=1e-12)


def test_translator_reads_a_real_branch_of_the_pxd():
    """The branch reader turns the pxd's own HUBER branch into the huber loss."""
    pxd = PXD.read_text()
    start = pxd.index("    elif loss == HUBER:")
    end = pxd.index("    elif loss == EPSILON_INSENSITIVE:")
    point = cython_branch(textwrap.dedent(pxd[start:end]))
    for p in (-2.0, -0.05, 0.0, 0.05, 2.0):
        value, grad = point(0.0, p, 0.1)
        inside = abs(p) <= 0.1
        assert value == pytest.approx(0.5 * p * p if inside else 0.1 * abs(p) - 0.005)
        assert grad == pytest.approx(p if inside else math.copysign(0.1, p))


@pytest.mark.parametrize("loss", [*LOSSES, "no_such_loss"])
def test_predict_proba_exists_exactly_for_the_losses_with_a_link(loss):
    from skgd import GDClassifier

    # a classification loss with a link (multinomial is log_loss's, not a name)
    expected = loss in CLASSIFICATION_LOSSES and LOSSES[loss].link is not None
    assert hasattr(GDClassifier(loss=loss), "predict_proba") == expected


@pytest.mark.parametrize(
    "heading, files, functions",
    [
        ("**A penalty**",
         ["skgd/_penalties.py", "skgd/_fast/_penalty.pxd", "tests/reference.py"],
         ["penalise", "penalty_start", "penalty_end", "lazy_shrink",
          "penalty_lazy_step"]),
        ("**A step schedule**",
         ["skgd/_fast/_schedule.pxd", "skgd/_schedules.py", "tests/test_schedules.py"],
         ["schedule_step"]),
    ],
)
def test_guide_penalty_and_schedule_tables_name_real_files_and_functions(
    heading, files, functions
):
    text = GUIDE.read_text()
    section = text[text.index(heading):]
    table = section[:section.index("==========\n\n") + 10]
    assert re.findall(r"^``([\w.]+/[\w/.]+)``", table, re.MULTILINE) == files
    for name in files:
        assert (ROOT / name).exists(), name
    # the inline functions the table names are those of the .pxd it names
    pxd = (ROOT / next(name for name in files if name.endswith(".pxd"))).read_text()
    for function in functions:
        assert f"``{function}``" in table, function
        assert re.search(rf"^cdef inline \w+\*? ?{function}\(", pxd, re.MULTILINE), function
