"""optlib: deep-learning optimizers written once, as rules, and run by four faces.

``optlib.rules`` holds the rules; ``optlib.symbolic`` (SymPy), ``optlib.reference`` (NumPy
float64), ``optlib.torch`` and ``optlib.keras`` run them; ``optlib.crosscheck`` compares the
faces with the frameworks' built-ins.  Importing ``optlib`` imports neither torch, nor
TensorFlow, nor Keras: each face imports its framework when it is used.
"""

from . import rules

__version__ = "0.1.0"
__all__ = ["rules", "__version__"]
