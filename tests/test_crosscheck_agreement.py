"""crosscheck.agreement: the labels a chapter prints for a cross-check table."""

import pandas as pd

from optlib.crosscheck import agreement


def test_labels_do_not_depend_on_round_off():
    table = pd.DataFrame(
        [("optlib.torch", "torch.optim", 0.0, 0.0), ("keras", "optlib.keras", 1e-17, 1e-17),
         ("reference", "keras", 0.0, 0.0), ("reference", "keras", 3e-15, 2e-15),
         ("reference", "torch.optim", 1e-9, 2e-12)],
        columns=["a", "b", "max_abs", "max_rel"])
    labels = agreement(table, 1e-13).tolist()
    # a face and its built-in: bitwise or a failure; any other pair: the tolerance, 0 or not
    assert labels == ["bitwise", "FAIL", "≤ 1e-13", "≤ 1e-13", "FAIL"]
    assert agreement(table.iloc[3:4], 2.5e-15).tolist() == ["≤ 2.5e-15"]
