"""Export fitted skgd models to ONNX with skl2onnx.

skl2onnx converts an estimator when a converter is registered for its
class. :func:`register` registers one for each skgd estimator; after it,
``skl2onnx.to_onnx`` converts a fitted skgd model alone or inside a
scikit-learn ``Pipeline``, and onnxruntime predicts with it what the model
predicts::

    import numpy as np
    import onnxruntime as ort
    import skl2onnx
    import skgd.onnx

    skgd.onnx.register()
    onx = skl2onnx.to_onnx(clf, X[:1].astype(np.float32))
    session = ort.InferenceSession(onx.SerializeToString())
    labels, probabilities = session.run(None, {"X": X.astype(np.float32)})

Registration is explicit, not a side effect of ``import skgd``: importing
skl2onnx (and onnx) costs about as much as a fifth of ``import skgd`` itself,
which every user would pay for a feature that only those who deploy use;
and it is the convention of the converters that live outside skl2onnx (such
as LightGBM's and XGBoost's), which are registered by a call too.

The graphs
----------
A float32 input (``FloatTensorType``) gives a float32 graph, a float64
input (``DoubleTensorType``) a float64 graph, whatever the dtype the model
was fitted in; a model fitted on a sparse matrix gives the same graph as
one fitted on a dense one (the coefficients are dense).

* ``GDRegressor``, ``GDRidge``, ``GDLasso``, ``GDElasticNet``: one output,
  ``variable``, of shape ``(N, n_outputs)`` -- ``(N, 1)`` for a model fitted
  on 1-D ``y``, as for scikit-learn's regressors.
* ``GDClassifier``: ``label`` -- the labels of ``predict``, computed from the
  scores -- and ``probabilities``, of shape ``(N, n_classes)``: those of
  ``predict_proba`` for ``log_loss`` (sigmoid for two classes, softmax for
  more) and ``modified_huber`` (clipped and normalised as
  ``predict_proba``), the scores of ``decision_function`` for the other
  losses or with the option ``raw_scores=True`` (``[-s, s]`` for two
  classes). Integer, boolean and integer-valued float labels come out as
  int64, text labels as strings.

The classifier takes skl2onnx's options of a scikit-learn classifier:
``zipmap`` (``True``, the default, returns the probabilities as a list of
``{label: probability}`` dicts; ``False`` as one array; ``'columns'`` one
output per class), ``nocl`` (labels as class indices), ``raw_scores`` and
``output_class_labels``. ONNX's ZipMap takes float32 only: a float64 graph
needs ``options={'zipmap': False}``.

What is not supported raises an error naming it, never a different graph:
an unfitted model (``NotFittedError``), an input that is not a float
tensor, a ``target_opset`` below 13, or a combination listed above as
unsupported (``NotImplementedError``).
"""

_ESTIMATORS = ("GDClassifier", "GDElasticNet", "GDLasso", "GDRegressor", "GDRidge")


def register():
    """Register the ONNX converters of the skgd estimators with skl2onnx.

    Call it once per process before ``skl2onnx.to_onnx``; calling it again
    does no harm. It uses skl2onnx's ``update_registered_converter``, with
    the aliases ``SkgdGDClassifier``, ``SkgdGDRegressor``, ...

    Returns
    -------
    estimators : tuple of type
        The estimator classes that now convert.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install "skgd[onnx]"`` installs
        it with onnxruntime).

    Examples
    --------
    >>> import numpy as np
    >>> import skl2onnx
    >>> import skgd.onnx
    >>> from skgd import GDRegressor
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> reg = GDRegressor(tol=1e-8).fit(X, X @ [1.0, -2.0] + 3.0)
    >>> [cls.__name__ for cls in skgd.onnx.register()]
    ['GDClassifier', 'GDElasticNet', 'GDLasso', 'GDRegressor', 'GDRidge']
    >>> onx = skl2onnx.to_onnx(reg, X[:1].astype(np.float32))
    >>> [(out.name, out.type.tensor_type.shape.dim[1].dim_value)
    ...  for out in onx.graph.output]
    [('variable', 1)]
    """
    try:
        from skl2onnx import update_registered_converter

        from . import _onnx
    except ImportError as exc:
        raise ImportError(
            f"skgd.onnx.register() needs skl2onnx ({exc}). Install it with "
            f'pip install "skgd[onnx]" (skl2onnx and onnxruntime).'
        ) from exc
    import skgd

    classes = tuple(getattr(skgd, name) for name in _ESTIMATORS)
    for cls in classes:
        if cls is skgd.GDClassifier:
            hooks = dict(
                shape_fct=_onnx.classifier_shape,
                convert_fct=_onnx.convert_classifier,
                parser=_onnx.parse_classifier,
                options=_onnx.CLASSIFIER_OPTIONS,
            )
        else:
            hooks = dict(
                shape_fct=_onnx.regressor_shape,
                convert_fct=_onnx.convert_regressor,
                parser=_onnx.parse_regressor,
            )
        update_registered_converter(cls, f"Skgd{cls.__name__}", **hooks)
    return classes
