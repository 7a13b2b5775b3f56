"""micrograd: a scalar autograd engine with a small neural-net library on top."""

from .engine import Value, gc_paused, is_grad_enabled, no_grad
from . import ops
from .declare import primitive  # micrograd.primitive(ops.Op(...)): a new op, checked and in the table
from . import autograd, func  # micrograd.autograd.grad / detect_anomaly, micrograd.func.hessian ...
from .tape import TracingError
from .tape import compile as compile  # re-exported: micrograd.compile
from .compiled_training import Training, training  # compiled training with the numbers in arrays

# compile is left out of __all__: `from micrograd import *` must not hide the builtin compile()
__all__ = ["Value", "no_grad", "is_grad_enabled", "gc_paused", "ops", "primitive", "autograd", "func",
           "TracingError", "Training", "training"]
__version__ = "0.2.0"
