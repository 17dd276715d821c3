"""How chapters show tables and formulas: as a reader reads them, and the same on any machine.

A number the prose quotes is glued rounded to the digits a reader can be shown, so that the
stored record (which nbval compares) does not carry round-off that differs between CPUs.
A table is a Markdown table (the book renders it with its own styles; nbval compares its text),
with formatted numbers, no index and no dtype footer.  A formula is rendered math, not the
one-line string of a SymPy expression.
"""

from __future__ import annotations

__all__ = ["table", "math", "glue_number"]


def table(frame, formats=None, index=False):
    """``frame`` as a Markdown table.

    ``formats`` maps a column to a format string (``"{:.3f}"``) or a function of one value;
    other columns print with ``str``.  With ``index=True`` the index becomes the first column."""
    from IPython.display import Markdown

    frame = frame.reset_index() if index else frame
    formats = formats or {}
    unknown = set(formats) - set(frame.columns)
    if unknown:
        raise KeyError(f"formats names columns the table does not have: {sorted(unknown)}")

    def cell(column, value):
        f = formats.get(column, str)
        text = f.format(value) if isinstance(f, str) else f(value)
        return str(text).replace("|", r"\|")

    header = [str(c).replace("|", r"\|") for c in frame.columns]
    align = ["---:" if frame[c].dtype.kind in "iuf" else ":---" for c in frame.columns]
    rows = [[cell(c, v) for c, v in zip(frame.columns, row)] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]
    return Markdown("\n".join(lines))


def math(*parts):
    """Rendered math from LaTeX strings and SymPy expressions, joined in order:
    ``math(r"\\eta^\\star = ", eta_opt)``."""
    import sympy as sp
    from IPython.display import Math

    return Math("".join(p if isinstance(p, str) else sp.latex(p) for p in parts))


def glue_number(name, value, digits=6):
    """Glue ``value`` under ``name`` for ``{glue:text}`` as a plain float rounded to
    ``digits`` significant digits: more than any prose format shows, fewer than the
    last digits of a float64 sum, which another CPU may compute in another order."""
    from myst_nb import glue

    glue(name, float(f"{float(value):.{digits}g}"), display=False)
