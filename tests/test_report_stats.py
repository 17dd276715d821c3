"""The small-sample statistics of optlib.experiments.report against known values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from optlib.experiments import report


def test_binomial_se_is_the_textbook_formula():
    assert report.binomial_se(0.95, 30) == pytest.approx(math.sqrt(0.95 * 0.05 / 30))
    assert report.binomial_se(0.99, 30) == pytest.approx(0.01817, abs=1e-5)
    assert report.binomial_se(1.0, 30) == 0.0


def test_wilson_interval_matches_statsmodels_values_and_stays_in_0_1():
    # 30 of 30: Wilson's 95 % interval is [0.8865, 1] (a Wald interval would be [1, 1])
    low, high = report.wilson_interval(1.0, 30)
    assert low == pytest.approx(0.88649, abs=1e-4) and high == 1.0
    # 15 of 30 is symmetric about 0.5
    low, high = report.wilson_interval(0.5, 30)
    assert low + high == pytest.approx(1.0) and low == pytest.approx(0.33150, abs=1e-4)
    low, high = report.wilson_interval(np.array([0.0, 0.2]), 10)
    assert low[0] == 0.0 and high[0] > 0.2 and 0 < low[1] < 0.2 < high[1] < 1


def test_sd_interval_is_the_chi_square_interval():
    low, high = report.sd_interval(1.0, 2)
    assert low == pytest.approx(math.sqrt(2 / stats.chi2.ppf(0.975, 2)))
    assert high == pytest.approx(math.sqrt(2 / stats.chi2.ppf(0.025, 2)))
    assert 11 < high / low < 13  # three seeds: the sd is known to a factor of about 12
    low30, high30 = report.sd_interval(1.0, 30)
    assert high30 / low30 < 2


def test_sign_flip_test_exact_values():
    # three seeds, all one way: 2 of the 8 sign patterns as extreme -> p = 0.25, the floor
    assert report.sign_flip_test([0.01, 0.02, 0.015]) == (0.25, 0.25)
    # all zero: no evidence, p = 1 (a t-test is undefined here)
    assert report.sign_flip_test([0.0] * 10) == (1.0, 1.0)
    # zeros carry no sign: one nonzero difference of ten gives p = 1, floor 1
    assert report.sign_flip_test([0.0] * 9 + [1 / 30]) == (1.0, 1.0)
    # ten equal differences: 2 / 1024
    p, p_min = report.sign_flip_test(np.full(10, 1 / 30))
    assert p == p_min == pytest.approx(2 / 1024)
    # symmetric differences: the observed sum is 0, every pattern is as extreme
    assert report.sign_flip_test([1.0, -1.0, 2.0, -2.0])[0] == 1.0
    with pytest.raises(ValueError):
        report.sign_flip_test(np.ones(21))


def test_sign_flip_test_against_brute_force_enumeration():
    rng = np.random.default_rng(0)
    d = rng.normal(0.3, 1.0, size=8)
    import itertools

    count = sum(abs(sum(s * x for s, x in zip(signs, d))) >= abs(d.sum()) - 1e-12
                for signs in itertools.product((1, -1), repeat=8))
    assert report.sign_flip_test(d)[0] == pytest.approx(count / 256)


def _runs(values):
    """A runs table from ``{optimizer: [final test accuracy by seed]}``, one lr each."""
    rows = [{"optimizer": o, "lr": 0.1, "seed": s, "test_acc": v, "diverged": False}
            for o, vs in values.items() for s, v in enumerate(vs)]
    runs = pd.DataFrame(rows)
    best = pd.DataFrame({"optimizer": list(values), "lr": 0.1})
    return runs, best


def test_paired_exact_and_accuracy_summary_on_ties():
    runs, best = _runs({"a": [1.0] * 10, "b": [1.0] * 10, "c": [29 / 30] * 9 + [1.0]})
    pairs = report.paired_exact(runs, best).set_index(["a", "b"])
    assert pairs.loc[("a", "b"), "p"] == 1.0
    assert pairs.loc[("a", "b"), "seeds that differ"] == 0
    assert pairs.loc[("a", "c"), "p"] == pytest.approx(2 / 512)
    # Holm over 3 pairs, two tied at 2 / 512
    assert pairs.loc[("a", "c"), "p_holm"] == pytest.approx(3 * 2 / 512)
    runs, best = _runs({"a": [1.0] * 10, "d": [29 / 30] + [1.0] * 9})
    s = report.accuracy_summary(runs, best, n_test=30).set_index("optimizer")
    assert s.loc["a", "seeds agree"]
    assert s.loc["a", "ci_low"] == s.loc["a", "ci_high"] == 1.0
    assert not s.loc["d", "seeds agree"] and s.loc["d", "ci_high"] == 1.0  # cut at 1
    raw_mean, raw_half = report.t_interval(runs[runs.optimizer == "d"].test_acc)
    assert raw_mean + raw_half > 1  # what the cut removed
    assert s.loc["a", "wilson_low"] == pytest.approx(0.88649, abs=1e-4)
