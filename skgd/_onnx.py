"""skl2onnx parsers, shape calculators and converters of the skgd estimators.

Imported by :func:`skgd.onnx.register` only, since it imports skl2onnx.

Every graph computes what the estimator's own methods compute, in the same
order of operations, in the float type of the graph's input:

* the scores ``S = X W^T + b``, one column per output (one for two classes);
* regressors output ``S`` (shape ``(N, n_outputs)``, ``(N, 1)`` for 1-D y,
  as skl2onnx's linear regressors do);
* classifiers output the label of ``S > 0`` (two classes) or of the first
  largest score -- from the scores, never from the probabilities, which tie
  where ``modified_huber`` clips -- and, as second output, the
  probabilities of ``predict_proba`` or, for the losses without them (or
  with the ``raw_scores`` option), the scores: ``[-s, s]`` for two classes.

Anything else -- an unfitted model, a loss or label type not listed here,
an input that is not a float tensor -- raises an error naming it: a graph
that predicted differently from the estimator would be worse than none.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from onnx import TensorProto
from skl2onnx._parse import _parse_sklearn_classifier, _parse_sklearn_simple_model
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from sklearn.utils.validation import check_is_fitted

from ._losses import CLASSIFICATION_LOSSES, LOSSES, REGRESSION_LOSSES

# ReduceSum takes its axes as an input from opset 13 on
MIN_OPSET = 13

# GDRegressor's losses: predict is the linear function itself for each
GD_REGRESSOR_LOSSES = frozenset(REGRESSION_LOSSES)
# GDClassifier's losses -> how predict_proba maps the scores (None: no
# probabilities, the second output holds the scores)
GD_CLASSIFIER_PROBA = {
    name: None if LOSSES[name].link is None else LOSSES[name].link.name
    for name in CLASSIFICATION_LOSSES
}
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
    "raw_scores": [True, False],
}
_FLOAT_TYPES = {FloatTensorType: np.float32, DoubleTensorType: np.float64}


# ---- checks (they run in the parser: before skl2onnx reads the model) ----------
def _check_model(model):
    """Raise if the fitted ``model`` has a setting the converters do not know."""
    name = type(model).__name__
    check_is_fitted(model)
    loss = getattr(model, "loss", None)
    if hasattr(model, "classes_"):
        if loss not in GD_CLASSIFIER_PROBA:
            raise NotImplementedError(
                f"ONNX conversion of {name}(loss={loss!r}) is not supported; the "
                f"converter knows the losses {sorted(GD_CLASSIFIER_PROBA)}."
            )
        n_classes = len(model.classes_)
        rows = 1 if n_classes == 2 else n_classes
        if np.shape(model.coef_) != (rows, model.n_features_in_):
            raise NotImplementedError(
                f"ONNX conversion of {name} with coef_ of shape "
                f"{np.shape(model.coef_)} for {n_classes} classes is not supported: "
                f"the converter expects ({rows}, {model.n_features_in_})."
            )
        _label_tensor(model.classes_)
    elif loss is not None and loss not in GD_REGRESSOR_LOSSES:
        raise NotImplementedError(
            f"ONNX conversion of {name}(loss={loss!r}) is not supported; the "
            f"converter knows the losses {sorted(GD_REGRESSOR_LOSSES)}."
        )


def _check_input(model, inputs):
    """The numpy float type of the graph, from its one input variable."""
    name = type(model).__name__
    if len(inputs) != 1:
        raise NotImplementedError(
            f"ONNX conversion of {name} with {len(inputs)} inputs "
            f"{[v.onnx_name for v in inputs]} is not supported: it takes one tensor "
            f"of shape (N, n_features). A DataFrame gives one input per column: "
            f"pass X.to_numpy() instead."
        )
    variable = inputs[0]
    dtype = _FLOAT_TYPES.get(type(variable.type))
    if dtype is None:
        raise NotImplementedError(
            f"ONNX conversion of {name} for an input of type "
            f"{type(variable.type).__name__} is not supported: use FloatTensorType "
            f"(a float32 graph) or DoubleTensorType (float64), e.g. "
            f"to_onnx(model, X[:1].astype(np.float32))."
        )
    shape = variable.type.shape
    n_features = shape[1] if shape is not None and len(shape) == 2 else None
    if isinstance(n_features, numbers.Integral) and n_features != model.n_features_in_:
        raise ValueError(
            f"The ONNX input has {n_features} features, but {name} was fitted with "
            f"{model.n_features_in_}."
        )
    return dtype


def _label_tensor(classes):
    """``classes_`` as the ONNX tensor of the labels: (element type, values).

    Integer, boolean and integer-valued float labels become int64 (the
    convention of skl2onnx's classifiers: ``True``/``False`` -> 1/0), text
    labels UTF-8 strings.
    """
    classes = np.asarray(classes)
    values = classes.tolist()
    if all(isinstance(c, (str, bytes)) for c in values):
        return TensorProto.STRING, [
            c.encode("utf-8") if isinstance(c, str) else c for c in values
        ]
    limit = np.iinfo(np.int64)
    if all(
        isinstance(c, numbers.Real) and float(c).is_integer() for c in values
    ) and all(limit.min <= int(c) <= limit.max for c in values):
        return TensorProto.INT64, [int(c) for c in values]
    raise NotImplementedError(
        f"ONNX conversion of class labels {classes!r} (dtype {classes.dtype}) is not "
        f"supported: the labels must be integers in the int64 range, booleans, "
        f"integer-valued floats or strings."
    )


# ---- parsers and shape calculators ---------------------------------------------
def parse_classifier(scope, model, inputs, custom_parsers=None):
    """Check the model, then skl2onnx's classifier parser (``zipmap`` and all)."""
    _check_model(model)
    dtype = _check_input(model, inputs)
    options = scope.get_options(model, dict(zipmap=True, output_class_labels=False))
    if options["zipmap"] is True and dtype == np.float64:
        raise NotImplementedError(
            f"ONNX conversion of {type(model).__name__} with a DoubleTensorType "
            f"input and the option zipmap=True is not supported: ONNX's ZipMap "
            f"takes float32 probabilities only. Pass "
            f"options={{'zipmap': False}} (or 'columns'), or a float32 input."
        )
    classes = np.asarray(model.classes_)
    text = _label_tensor(classes)[0] == TensorProto.STRING
    if options["output_class_labels"] and not (
        text or classes.dtype in (np.int32, np.int64)
    ):
        raise NotImplementedError(
            f"The option output_class_labels is not supported for class labels of "
            f"dtype {classes.dtype}: skl2onnx writes them as int64 or strings only."
        )
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)


def parse_regressor(scope, model, inputs, custom_parsers=None):
    """Check the model, then skl2onnx's parser of a one-output model."""
    _check_model(model)
    _check_input(model, inputs)
    return _parse_sklearn_simple_model(scope, model, inputs, custom_parsers)


def regressor_shape(operator):
    """Output ``variable``: ``(N, n_outputs)`` in the input's float type."""
    model = operator.raw_operator
    n_outputs = np.atleast_1d(model.intercept_).shape[0]
    N = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(operator.inputs[0].type)([N, n_outputs])


def classifier_shape(operator):
    """Outputs ``label`` ``(N,)`` and ``probabilities`` ``(N, n_classes)``."""
    model = operator.raw_operator
    N = operator.inputs[0].get_first_dimension()
    options = operator.scope_inst.get_options(model, dict(nocl=False))
    string_labels = _label_tensor(model.classes_)[0] == TensorProto.STRING
    label_type = StringTensorType if string_labels and not options["nocl"] else (
        Int64TensorType
    )
    operator.outputs[0].type = label_type([N])
    float_type = type(operator.inputs[0].type)
    operator.outputs[1].type = float_type([N, len(model.classes_)])


# ---- converters -----------------------------------------------------------------
class _Graph:
    """Adds the nodes and constants of one converter under unique names."""

    def __init__(self, scope, operator, container):
        if container.target_opset < MIN_OPSET:
            raise NotImplementedError(
                f"ONNX conversion of {type(operator.raw_operator).__name__} for "
                f"target_opset={container.target_opset} is not supported: the "
                f"converter needs opset {MIN_OPSET} or later."
            )
        self.scope, self.container = scope, container
        self.dtype = _FLOAT_TYPES[type(operator.inputs[0].type)]
        double = self.dtype == np.float64
        self.proto = TensorProto.DOUBLE if double else TensorProto.FLOAT

    def const(self, value, proto=None, name="cst"):
        """A constant (float in the graph's type unless ``proto`` is given)."""
        if proto is None:
            value = np.asarray(value, dtype=self.dtype)
            proto, shape, values = self.proto, value.shape, value.ravel()
        else:
            shape, values = (len(value),), value
        unique = self.scope.get_unique_variable_name(name)
        self.container.add_initializer(unique, proto, list(shape), values)
        return unique

    def node(self, op_type, inputs, output=None, **attrs):
        """Add ``op_type(inputs)``; returns its output's name."""
        if output is None:
            output = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type, list(inputs), [output],
            name=self.scope.get_unique_operator_name(op_type), **attrs,
        )
        return output

    def scores(self, X, coef, intercept):
        """``X @ coef.T + intercept``, of shape (N, n_outputs)."""
        coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
        W = coef.reshape(-1, coef.shape[-1]).T
        product = self.node("MatMul", [X, self.const(W, name="coef_T")])
        b = self.const(np.atleast_1d(intercept), name="intercept")
        return self.node("Add", [product, b])


def convert_regressor(scope, operator, container):
    """``predict``: the scores themselves."""
    model = operator.raw_operator
    graph = _Graph(scope, operator, container)
    scores = graph.scores(operator.inputs[0].full_name, model.coef_, model.intercept_)
    graph.node("Identity", [scores], operator.outputs[0].full_name)


def convert_classifier(scope, operator, container):
    """``predict`` (label output) and ``predict_proba`` or the scores."""
    model = operator.raw_operator
    graph = _Graph(scope, operator, container)
    options = container.get_options(model, dict(nocl=False, raw_scores=False))
    scores = graph.scores(operator.inputs[0].full_name, model.coef_, model.intercept_)
    binary = len(model.classes_) == 2

    # labels: from the scores, the first largest one as numpy's argmax
    if binary:
        positive = graph.node("Greater", [scores, graph.const(0.0)])
        index = graph.node("Cast", [positive], to=TensorProto.INT64)
        index = graph.node("Reshape", [index, graph.const([-1], TensorProto.INT64)])
    else:
        index = graph.node("ArgMax", [scores], axis=1, keepdims=0)
    if options["nocl"]:
        proto, values = TensorProto.INT64, list(range(len(model.classes_)))
    else:
        proto, values = _label_tensor(model.classes_)
    graph.node(
        "Gather", [graph.const(values, proto, name="classes"), index],
        operator.outputs[0].full_name, axis=0,
    )

    proba = None if options["raw_scores"] else GD_CLASSIFIER_PROBA[model.loss]
    out = operator.outputs[1].full_name
    if proba is None:
        if binary:
            graph.node("Concat", [graph.node("Neg", [scores]), scores], out, axis=1)
        else:
            graph.node("Identity", [scores], out)
    elif proba == "logistic":
        _logistic_proba(graph, scores, binary, out)
    else:
        _modified_huber_proba(graph, scores, binary, len(model.classes_), out)


def _logistic_proba(graph, scores, binary, out):
    """Sigmoid of the score (two classes), softmax of the scores (more)."""
    if not binary:
        graph.node("Softmax", [scores], out, axis=1)
        return
    one = graph.const(1.0)
    # 1 / (1 + exp(-s)) as scipy's expit. Not onnxruntime's Sigmoid: in
    # float64 its relative error exceeds 1e-12 below s = -9, and it returns 0
    # below s = -30 (expit(-40) = 4.2e-18), measured with onnxruntime 1.32.
    exp_minus = graph.node("Exp", [graph.node("Neg", [scores])])
    denominator = graph.node("Add", [one, exp_minus])
    positive = graph.node("Div", [one, denominator])
    graph.node("Concat", [graph.node("Sub", [one, positive]), positive], out, axis=1)


def _modified_huber_proba(graph, scores, binary, n_classes, out):
    """``(clip(s, -1, 1) + 1) / 2``, normalised over the classes.

    A row whose classes all get zero gets the uniform distribution, as in
    ``GDClassifier.predict_proba``.
    """
    one = graph.const(1.0)
    clipped = graph.node("Clip", [scores, graph.const(-1.0), one])
    prob = graph.node("Div", [graph.node("Add", [clipped, one]), graph.const(2.0)])
    if binary:
        graph.node("Concat", [graph.node("Sub", [one, prob]), prob], out, axis=1)
        return
    total = graph.node(
        "ReduceSum", [prob, graph.const([1], TensorProto.INT64)], keepdims=1
    )
    empty = graph.node("Equal", [total, graph.const(0.0)])
    prob = graph.node("Where", [empty, one, prob])
    total = graph.node("Where", [empty, graph.const(float(n_classes)), total])
    graph.node("Div", [prob, total], out)
