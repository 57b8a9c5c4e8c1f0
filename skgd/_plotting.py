"""LossCurveDisplay: the objective of a fit, epoch by epoch.

scikit-learn's Display convention (``from_estimator`` builds the display and
calls ``plot``; the artists are kept as attributes ending in ``_``).
matplotlib is an optional dependency: it is imported only when something is
drawn.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _import_pyplot(caller):
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            'with: pip install "skgd[plot]"  (or: pip install matplotlib)'
        ) from exc
    return plt


class LossCurveDisplay:
    """Loss curve of a gradient-descent fit: the objective after each epoch.

    The training objective ``loss_curve_`` is drawn against the epoch on a
    logarithmic y-axis (linear if some value is not positive). When the
    estimator ran with ``early_stopping=True``, its ``validation_scores_``
    are drawn on a second y-axis on the right.

    Use :meth:`from_estimator` to build the display from a fitted estimator;
    create it directly only to plot a curve you computed yourself.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The objective after each epoch.

    validation_scores : array-like of shape (n_epochs,), default=None
        The validation score after each epoch (early stopping), or None.

    estimator_name : str, default=None
        Name of the estimator, used as the legend label.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The loss curve.

    validation_line_ : matplotlib Line2D or None
        The validation scores, or None when there are none.

    validation_ax_ : matplotlib Axes or None
        The right-hand axes of the validation scores, or None.

    ax_ : matplotlib Axes
        The axes of the loss curve.

    figure_ : matplotlib Figure
        The figure of ``ax_``.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the
        training-set size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_diabetes
    >>> from skgd import GDRegressor, LossCurveDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = GDRegressor(solver="sgd", random_state=0).fit(X, y)
    >>> disp = LossCurveDisplay.from_estimator(reg)
    >>> disp.ax_.get_yscale()
    'log'
    """

    def __init__(self, *, loss_curve, validation_scores=None, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, validation_kwargs=None, **kwargs):
        """Draw the loss curve (and the validation scores, if any).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created if None.
            Several displays can share one axes to compare fits.

        name : str, default=None
            Legend label of the curve; defaults to ``estimator_name``.

        validation_kwargs : dict, default=None
            Keyword arguments of ``Axes.plot`` for the validation scores.

        **kwargs : dict
            Keyword arguments of ``Axes.plot`` for the loss curve (e.g.
            ``color``, ``linestyle``).

        Returns
        -------
        display : LossCurveDisplay
            The display, with the artists stored in its attributes.
        """
        plt = _import_pyplot("LossCurveDisplay.plot")
        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name

        curve = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, curve.size + 1)
        line_kwargs = dict(kwargs)
        if name is not None:
            line_kwargs.setdefault("label", name)
        (self.line_,) = ax.plot(epochs, curve, **line_kwargs)
        # A log axis shows the orders of magnitude a converging fit goes
        # through; it cannot show a zero objective (e.g. the perceptron loss
        # on separable data), where the axis stays linear.
        if curve.size and np.all(curve > 0):
            ax.set_yscale("log")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Training objective")

        self.validation_line_ = None
        self.validation_ax_ = None
        if self.validation_scores is not None:
            scores = np.asarray(self.validation_scores, dtype=float)
            # Displays drawn on the same axes share one right-hand axes.
            val_ax = getattr(ax, "_skgd_validation_ax", None)
            if val_ax is None:
                val_ax = ax.twinx()
                ax._skgd_validation_ax = val_ax
            val_kwargs = {
                "linestyle": "--",
                "color": self.line_.get_color(),
                "label": "validation score" if name is None else f"{name} (validation)",
                **(validation_kwargs or {}),
            }
            (self.validation_line_,) = val_ax.plot(
                np.arange(1, scores.size + 1), scores, **val_kwargs
            )
            val_ax.set_ylabel("Validation score")
            self.validation_ax_ = val_ax

        lines = list(ax.get_lines())
        val_ax = getattr(ax, "_skgd_validation_ax", None)
        if val_ax is not None:
            lines += list(val_ax.get_lines())
        labelled = [h for h in lines if not h.get_label().startswith("_")]
        if labelled:
            if val_ax is not None:
                # the legend goes on the top (right-hand) axes, so that its
                # curves cannot hide it; drop an older one on the left axes
                if ax.get_legend() is not None:
                    ax.get_legend().remove()
                val_ax.legend(handles=labelled)
            else:
                ax.legend(handles=labelled)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot the loss curve of a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted estimator with a ``loss_curve_`` attribute (every skgd
            estimator; also scikit-learn's MLP models), or a Pipeline ending
            in one.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created if None.

        name : str, default=None
            Legend label; defaults to the estimator's class name and, for
            skgd estimators, the solver that ran, e.g. ``"GDRegressor (sgd)"``.

        **kwargs : dict
            Passed to :meth:`plot` (``validation_kwargs`` and the keyword
            arguments of ``Axes.plot`` for the loss curve).

        Returns
        -------
        display : LossCurveDisplay
            The display, with the artists stored in its attributes.
        """
        _import_pyplot("LossCurveDisplay.from_estimator")
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        check_is_fitted(final, "loss_curve_")
        if name is None:
            name = type(final).__name__
            solver = getattr(final, "solver_", None)
            if isinstance(solver, str):
                name = f"{name} ({solver})"
        disp = cls(
            loss_curve=final.loss_curve_,
            validation_scores=getattr(final, "validation_scores_", None),
            estimator_name=name,
        )
        return disp.plot(ax=ax, **kwargs)
