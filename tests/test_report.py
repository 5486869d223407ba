"""The HTML report: every section, embedded figures, the LOO comparison; nothing external."""

from __future__ import annotations

import re
import warnings

import pytest

import spikepool as sp


@pytest.fixture(scope="module")
def fits():
    counts, _ = sp.simulate_counts(8, 16, conditions=["a", "b"], mu=[1.0, 2.0], tau=0.6, alpha=2.0, seed=8)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        for likelihood in ("negbin", "poisson"):
            model = sp.HierarchicalNegBinom(dispersion="shared", likelihood=likelihood, condition="condition")
            out.append(model.fit(counts, draws=300, tune=300, chains=2, cores=1, random_seed=3, progressbar=False))
    return out


def test_report_has_every_section_and_is_self_contained(fits, tmp_path):
    nb, poisson = fits
    path = sp.report(nb, tmp_path / "r.html", others=[poisson])
    page = path.read_text()
    for anchor in ("data", "checks", "model", "diagnostics", "shrinkage", "fano", "ppc", "loo"):
        assert f'id="{anchor}"' in page
    assert page.count("data:image/png;base64,") == 5  # shrinkage, rates, Fano, rootogram, Fano PPC
    assert not re.search(r'src="(?!data:)', page)  # no external images or scripts
    assert "partial/shared" in page and "partial/poisson" in page  # the LOO table names both fits
    assert "8 neurons, 16 trials, 2 conditions" in page
    assert "Var = mu + mu<sup>2</sup>/alpha" in page


def test_report_without_comparison_shows_the_fits_own_loo(fits, tmp_path):
    page = sp.report(fits[0], tmp_path / "r.html").read_text()
    assert "elpd" in page.lower()
