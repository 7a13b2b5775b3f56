"""micrograd: a scalar autograd engine with a small neural-net library on top."""

from .engine import Value, gc_paused, is_grad_enabled, no_grad
from . import ops
from . import autograd, func  # micrograd.autograd.grad / detect_anomaly, micrograd.func.hessian ...
from .tape import TracingError, compile

__all__ = ["Value", "no_grad", "is_grad_enabled", "gc_paused", "ops", "autograd", "func", "compile",
           "TracingError"]
__version__ = "0.2.0"
