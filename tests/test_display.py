"""The chapters' table, formula and figure helpers."""

import matplotlib
import pandas as pd
import pytest
import sympy as sp

from optlib import display, plotting

matplotlib.use("Agg")


def test_table_formats_columns_and_escapes_pipes():
    frame = pd.DataFrame({"final loss": [0.12345, 2.5], "method": ["adam", "a|b"]})
    text = display.table(frame, formats={"final loss": "{:.3f}"}).data
    assert text.splitlines() == [
        "| final loss | method |", "| ---: | :--- |", "| 0.123 | adam |", r"| 2.500 | a\|b |"]


def test_table_rejects_formats_for_missing_columns():
    with pytest.raises(KeyError, match="loss"):
        display.table(pd.DataFrame({"a": [1]}), formats={"loss": "{:g}"})


def test_math_joins_latex_and_sympy():
    assert display.math(r"\eta^\star = ", 2 / (sp.Symbol("a") + 1)).data == r"\eta^\star = \frac{2}{a + 1}"


def test_line_styles_differ_past_ten_series():
    assert plotting.line_style(0) == plotting.line_style(9) != plotting.line_style(10)


def test_figure_rejects_a_width_the_page_cannot_show():
    with pytest.raises(ValueError, match="width"):
        plotting.figure(3, width=4.0)
    fig, axes = plotting.figure(2, width=4.8)
    assert len(axes) == 2 and matplotlib.rcParams["font.size"] == plotting.BOOK_STYLE["font.size"]
    matplotlib.pyplot.close(fig)


def test_glue_number_stores_a_rounded_plain_float(monkeypatch):
    import numpy as np
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: value}))
    display.glue_number("x", np.float64(0.019999999999997797))
    display.glue_number("y", 345.37625071661444, digits=4)
    assert glued == {"x": 0.02, "y": 345.4} and type(glued["x"]) is float
