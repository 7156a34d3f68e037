"""The pictures' boundary checks: a record of the right kind, a title that is text.

The records (:class:`jbp.Explanation`, :class:`jbp.TrainingRun`) are defined in the core, which this
layer never imports (it loads no JAX, and the core imports it). A record can only exist once its
module is loaded, so :func:`check_record` finds the class in ``sys.modules``: an exact ``isinstance``
without an import.
"""

from __future__ import annotations

import sys

__all__ = ["check_record", "check_title"]


def check_record(value: object, name: str, module: str, cls: str, made_by: str) -> None:
  """Raises TypeError unless ``value`` is an instance of ``module.cls`` (what ``made_by`` returns)."""
  kind = getattr(sys.modules.get(module), cls, None)
  if kind is None or not isinstance(value, kind):
    raise TypeError(f"{name}: expected a jbp.{cls} (what {made_by} returns), got {type(value).__name__}")


def check_title(title: object) -> None:
  """Raises TypeError unless ``title`` is a string or None."""
  if title is not None and not isinstance(title, str):
    raise TypeError(f"title: expected a string or None, got {type(title).__name__}")
