"""The counts object: its schema (``validate_counts``), summaries, response screens, simulation and sessions."""

from spikepool.counts.describe import format_summary, summarize_counts
from spikepool.counts.lazy import open_sessions
from spikepool.counts.responses import responsive_trials
from spikepool.counts.schema import from_array, open_counts, valid_mask, validate_counts
from spikepool.counts.sessions import concat_sessions
from spikepool.counts.simulate import simulate_counts, simulate_sessions

__all__ = [
    "concat_sessions",
    "format_summary",
    "from_array",
    "open_counts",
    "open_sessions",
    "responsive_trials",
    "simulate_counts",
    "simulate_sessions",
    "summarize_counts",
    "valid_mask",
    "validate_counts",
]
