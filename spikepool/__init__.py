"""spikepool: honest per-neuron firing rates from recorded spike trains.

Load spike trains (Neo objects, any ``neo.io`` file, NWB, plain arrays) into neuron x trial count
arrays (``xarray.DataArray``) and fit hierarchical Gamma-Poisson models that partially pool neurons.
"""

from spikepool import datasets
from spikepool._version import __version__
from spikepool.checks.binned import check_binned
from spikepool.checks.counts import check_counts
from spikepool.checks.problems import CheckReport, Problem
from spikepool.checks.sampling import check_sampling
from spikepool.counts.export import counts_to_pynapple
from spikepool.counts.lazy import open_sessions
from spikepool.counts.responses import responsive_trials
from spikepool.counts.schema import from_array, open_counts, validate_counts
from spikepool.counts.sessions import concat_sessions, split_sessions
from spikepool.counts.simulate import simulate_binned, simulate_counts, simulate_sessions
from spikepool.exceptions import (
    ArgumentError,
    ArgumentTypeError,
    CountsError,
    DatasetError,
    FormulaError,
    IdentifiabilityError,
    NeuronKeyError,
    SamplingWarning,
    SourceError,
    SpikepoolError,
    SpikepoolWarning,
    UnitsError,
    WindowError,
)
from spikepool.io import from_neo, from_nwb, from_pynapple, from_sorting, from_spike_times, load
from spikepool.models import HierarchicalGLM, HierarchicalNegBinom, HierarchicalPSTH, NormalNormal
from spikepool.models.beta_binomial import BetaBinomial
from spikepool.models.random_effects import RandomEffectsNormal, check_responses
from spikepool.results import FitResult, GLMResult, load_result
from spikepool.stats import analytic
from spikepool.stats.describe import format_summary, summarize_counts
from spikepool.stats.empirical import fit_empirical_bayes
from spikepool.stats.mean_matched import mean_matched_fano
from spikepool.viz import plots
from spikepool.viz.report import report
from spikepool.workflows.parallel import fit_many
from spikepool.workflows.pooling import compare_pooling

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "SamplingWarning",
    "HierarchicalGLM",
    "HierarchicalNegBinom",
    "HierarchicalPSTH",
    "NormalNormal",
    "BetaBinomial",
    "RandomEffectsNormal",
    "check_responses",
    "FitResult",
    "GLMResult",
    "FormulaError",
    "CheckReport",
    "CountsError",
    "DatasetError",
    "IdentifiabilityError",
    "NeuronKeyError",
    "Problem",
    "SourceError",
    "SpikepoolError",
    "SpikepoolWarning",
    "UnitsError",
    "WindowError",
    "__version__",
    "check_binned",
    "check_counts",
    "check_sampling",
    "fit_many",
    "compare_pooling",
    "concat_sessions",
    "split_sessions",
    "open_sessions",
    "analytic",
    "datasets",
    "plots",
    "format_summary",
    "simulate_binned",
    "simulate_counts",
    "simulate_sessions",
    "load_result",
    "report",
    "responsive_trials",
    "fit_empirical_bayes",
    "counts_to_pynapple",
    "from_array",
    "from_neo",
    "from_nwb",
    "from_pynapple",
    "from_sorting",
    "from_spike_times",
    "load",
    "open_counts",
    "summarize_counts",
    "mean_matched_fano",
    "validate_counts",
]
