"""micrograd: a scalar autograd engine with a small neural-net library on top."""

from .engine import Value, is_grad_enabled, no_grad
from . import ops

__all__ = ["Value", "no_grad", "is_grad_enabled", "ops"]
__version__ = "0.2.0"
