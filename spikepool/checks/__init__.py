"""Checks: what the design can identify before a fit (``check_counts``) and how the sampler did after it
(``check_sampling``), both as a ``CheckReport`` of ``Problem`` findings."""

from spikepool.checks.counts import check_counts
from spikepool.checks.problems import CheckReport, Problem
from spikepool.checks.sampling import check_sampling

__all__ = ["CheckReport", "Problem", "check_counts", "check_sampling"]
