"""Symbolic circuit parameters: a Parameter and affine expressions `scale * p + offset`."""

from __future__ import annotations

import itertools
import math
import numbers

_ids = itertools.count()


class Parameter:
    """A named free angle, bound when a circuit runs. Two parameters are equal only if
    they are the same object, even with equal names (as in Qiskit)."""

    __slots__ = ("_id", "name")

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Parameter: name must be a non-empty str, got {name!r}")
        self.name = name
        self._id = next(_ids)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r})"

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other: object) -> bool:
        return other is self

    def _expr(self) -> ParameterExpression:
        return ParameterExpression(self, 1.0, 0.0)

    def __mul__(self, k):
        return self._expr() * k

    __rmul__ = __mul__

    def __truediv__(self, k):
        return self._expr() / k

    def __add__(self, k):
        return self._expr() + k

    __radd__ = __add__

    def __sub__(self, k):
        return self._expr() - k

    def __rsub__(self, k):
        return -self._expr() + k

    def __neg__(self):
        return self._expr() * -1.0


class ParameterExpression:
    """`scale * parameter + offset`, the angle forms a compiled plan evaluates."""

    __slots__ = ("offset", "parameter", "scale")

    def __init__(self, parameter: Parameter, scale: float, offset: float):
        self.parameter, self.scale, self.offset = parameter, float(scale), float(offset)
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)):
            raise ValueError(
                f"ParameterExpression: scale and offset must be finite, got {self.scale} and {self.offset}"
            )

    def __repr__(self) -> str:
        return f"{self.scale:g}*{self.parameter.name} + {self.offset:g}"

    @staticmethod
    def _number(k, op: str) -> float:
        if not isinstance(k, numbers.Real):
            raise TypeError(f"ParameterExpression: {op} needs a real number, got {type(k).__name__}")
        return float(k)

    def __mul__(self, k):
        k = self._number(k, "*")
        return ParameterExpression(self.parameter, self.scale * k, self.offset * k)

    __rmul__ = __mul__

    def __truediv__(self, k):
        return self * (1.0 / self._number(k, "/"))

    def __add__(self, k):
        return ParameterExpression(self.parameter, self.scale, self.offset + self._number(k, "+"))

    __radd__ = __add__

    def __sub__(self, k):
        return self + (-self._number(k, "-"))

    def __rsub__(self, k):
        return -self + k

    def __neg__(self):
        return self * -1.0


Angle = "float | Parameter | ParameterExpression"
