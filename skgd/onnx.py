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

Registration is a call, not a side effect of ``import skgd``: importing
skl2onnx costs about a fifth of the time of ``import skgd``, which every
user would pay for what only those who deploy use; the converters of other
libraries outside skl2onnx (LightGBM's, XGBoost's) are registered by a
call too.

A float32 input gives a float32 graph, a float64 input a float64 graph.
Regressors output ``variable`` (``predict``, shape ``(N, n_outputs)``);
``GDClassifier`` outputs ``label`` and ``probabilities`` (``predict_proba``,
or the scores of ``decision_function`` for the losses without
probabilities), with skl2onnx's classifier options ``zipmap``, ``nocl``,
``raw_scores`` and ``output_class_labels``. What cannot be converted
exactly raises an error naming it. The documentation page "Deploying a
model" has the details.
"""


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
    from ._classification import GDClassifier
    from ._least_squares import GDElasticNet, GDLasso, GDRidge
    from ._regression import GDRegressor

    update_registered_converter(
        GDClassifier, "SkgdGDClassifier",
        _onnx.classifier_shape, _onnx.convert_classifier,
        parser=_onnx.parse_classifier, options=_onnx.CLASSIFIER_OPTIONS,
    )
    regressors = (GDElasticNet, GDLasso, GDRegressor, GDRidge)
    for cls in regressors:
        update_registered_converter(
            cls, f"Skgd{cls.__name__}",
            _onnx.regressor_shape, _onnx.convert_regressor,
            parser=_onnx.parse_regressor,
        )
    return (GDClassifier, *regressors)
