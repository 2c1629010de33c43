"""scikit-learn's parameter protocol, ``get_params`` and ``set_params``, and its tags,
without scikit-learn.

With them, ``sklearn.base.clone``, grid searches and pipelines can copy and
reconfigure decnp's estimators. The parameters are the arguments of
``__init__``, which stores each one unchanged under its own name. Also a
``repr`` that shows the parameters set to other than their defaults, as
scikit-learn prints its estimators. And :class:`NotFittedError`, scikit-learn's
exception for an estimator used before ``fit``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class NotFittedError(ValueError, AttributeError):
    """An estimator was used (``predict``, ``transform``, ``save`` ...) before ``fit`` or ``load``.

    A ValueError and an AttributeError, as scikit-learn's own
    ``sklearn.exceptions.NotFittedError``, so code written for scikit-learn's
    estimators catches it.
    """


@contextmanager
def all_or_nothing(estimator: Any, names: tuple[str, ...]) -> Iterator[None]:
    """Undo a failed ``fit``: on any exception (Ctrl-C included) inside the block,
    put back the attributes ``names`` as they were before it, removing those
    the estimator did not have, and re-raise.

    A model is then either the one fitted before, whole, or the new one, whole
    (or stays unfitted), never new weights beside old centres.
    """
    state = vars(estimator)
    before = {name: state[name] for name in names if name in state}
    try:
        yield
    except BaseException:
        for name in names:
            state.pop(name, None)
        state.update(before)
        raise


class ParamsMixin:
    """``get_params`` and ``set_params`` for a class whose ``__init__`` stores its arguments."""

    @classmethod
    def _param_names(cls) -> list[str]:
        """The names of ``__init__``'s arguments, in order."""
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        return [p.name for p in parameters]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters by name.

        Parameters
        ----------
        deep : bool
            Also list the parameters of parameters that are estimators themselves
            (DEC's ``autoencoder``), as ``autoencoder__dropout`` and so on.

        Returns
        -------
        dict
            Each value is the object stored, not a copy.
        """
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if isinstance(value, ParamsMixin):
                    params |= {f"{name}__{k}": v for k, v in value.get_params().items()}
        return params

    def set_params(self, **params: Any) -> ParamsMixin:
        """Set parameters by name (``autoencoder__dropout`` reaches into ``autoencoder``).

        Values are stored unchecked, as ``__init__`` stores them; ``fit`` checks
        them. A fitted model keeps its fitted attributes until it is fitted again.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            A name that is not a parameter, or a nested name whose parameter is
            not an estimator.
        """
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"{key!r} is not a parameter of {type(self).__name__}; "
                    f"valid parameters: {sorted(valid)}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            inner = getattr(self, name)
            if not isinstance(inner, ParamsMixin):
                raise ValueError(
                    f"{name}__... needs {name} to be an estimator, got {type(inner).__name__}"
                )
            inner.set_params(**sub_params)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags for this estimator (scikit-learn 1.6 and later ask
        every estimator for them, in grid searches and pipelines among others).

        Made of scikit-learn's own ``Tags`` classes, taken from the loaded
        scikit-learn: only scikit-learn calls this, and decnp never imports it.
        Subclasses adjust them in :meth:`_adjust_tags`.

        Raises
        ------
        ImportError
            If scikit-learn has not been imported.
        """
        utils = sys.modules.get("sklearn.utils")
        if utils is None or not hasattr(utils, "Tags"):
            raise ImportError("__sklearn_tags__ serves scikit-learn >= 1.6; import it first")
        tags = utils.Tags(estimator_type=None, target_tags=utils.TargetTags(required=False))
        self._adjust_tags(tags, utils)
        return tags

    def _adjust_tags(self, tags: Any, utils: Any) -> None:
        """Set this estimator's own tags on ``tags`` (``utils``: ``sklearn.utils``)."""

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults[name].default
            try:
                same = type(value) is type(default) and bool(value == default)
            except (TypeError, ValueError):  # arrays compare element by element
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
