"""The counts object: its schema (``validate_counts``), response screens, simulation and sessions (its
summary, ``summarize_counts``, is in ``spikepool.stats.describe``)."""

from spikepool.counts.lazy import open_sessions
from spikepool.counts.responses import responsive_trials
from spikepool.counts.schema import from_array, open_counts, valid_mask, validate_counts
from spikepool.counts.sessions import concat_sessions, split_sessions
from spikepool.counts.simulate import simulate_binned, simulate_counts, simulate_sessions

__all__ = [
    "concat_sessions",
    "from_array",
    "open_counts",
    "open_sessions",
    "responsive_trials",
    "simulate_binned",
    "simulate_counts",
    "simulate_sessions",
    "split_sessions",
    "valid_mask",
    "validate_counts",
]
