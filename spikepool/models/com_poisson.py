"""The COM-Poisson group log-likelihood as a PyTensor ``Op`` (value and exact gradient; numba and Python).

``spikepool.stats.com_poisson.group_loglik`` does the work: per group, ``lambda`` solved from the mean, the
series summed once, the value and its two derivatives (implicit differentiation through the mean
constraint, in that module's docstring). The Op returns all three; its gradient reuses the last two, so a
log-probability-and-gradient function computes each group's series once. Under PyTensor's numba backend
(the default, and nutpie's) the kernel is compiled into the model's function; elsewhere ``perform`` calls
it from Python. There is no JAX version: ``sampler="numpyro"`` is refused for this family before sampling.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np

from spikepool.exceptions import ArgumentTypeError
from spikepool.stats import com_poisson as kernels

__all__ = ["com_groups_loglik"]

# the numba cache key of the Op must change whenever the kernel does
_KERNEL_VERSION = int(hashlib.sha256(inspect.getsource(kernels).encode()).hexdigest()[:12], 16)


def _op_class():
    """The Op's class, created on first use: ``import spikepool`` must not import PyTensor (``fit_many`` sets
    each worker's compile directory first). It is this module's ``ComPoissonGroups`` (PEP 562
    ``__getattr__``), so pickled graphs (chains in other processes) find it by name."""
    import pytensor.tensor as pt
    from pytensor.gradient import DisconnectedType, grad_not_implemented
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op
    from pytensor.link.numba.dispatch import basic as numba_basic

    class ComPoissonGroups(Op):
        """``(ll, d_log_mu, d_nu) = op(log_mu, nu, total, n, lf_sum)``, all float64 vectors (group,).

        ``ll`` is each group's log-likelihood; only it is differentiable (its gradient is the other two
        outputs). ``total``, ``n`` and ``lf_sum`` are data: the sum of the group's counts, how many and the sum
        of their ``log y!``.
        """

        __props__ = ()

        def make_node(self, log_mu, nu, total, n, lf_sum) -> Apply:
            inputs = [pt.as_tensor_variable(x).astype("float64") for x in (log_mu, nu, total, n, lf_sum)]
            for x in inputs:
                if x.ndim != 1:
                    raise ArgumentTypeError(f"ComPoissonGroups takes vectors (group,); got an input of {x.ndim} dims.")
            return Apply(self, inputs, [pt.dvector(), pt.dvector(), pt.dvector()])

        def perform(self, node, inputs, output_storage) -> None:
            for storage, value in zip(output_storage, kernels.group_loglik(*inputs), strict=True):
                storage[0] = value

        def infer_shape(self, node, input_shapes):
            return [input_shapes[0]] * 3

        def connection_pattern(self, node):
            return [[True, True, True], [True, True, True], [False] * 3, [False] * 3, [False] * 3]

        def pullback(self, inputs, outputs, cotangents):
            if not all(isinstance(g.type, DisconnectedType) for g in cotangents[1:]):
                why = "only the log-likelihood is differentiable"
                return [grad_not_implemented(self, i, x, why) for i, x in enumerate(inputs)]
            g = cotangents[0]
            return [g * outputs[1], g * outputs[2], *(DisconnectedType()() for _ in inputs[2:])]

    ComPoissonGroups.__module__ = __name__
    ComPoissonGroups.__qualname__ = "ComPoissonGroups"

    @numba_basic.register_funcify_default_op_cache_key(ComPoissonGroups)
    def _numba_com_poisson_groups(op, node, **kwargs):
        group_loglik = kernels._group_loglik

        @numba_basic.numba_njit
        def com_poisson_groups(log_mu, nu, total, n, lf_sum):
            ll = np.empty_like(log_mu)
            d_log_mu = np.empty_like(log_mu)
            d_nu = np.empty_like(log_mu)
            group_loglik(log_mu, nu, total, n, lf_sum, ll, d_log_mu, d_nu)
            return ll, d_log_mu, d_nu

        return com_poisson_groups, _KERNEL_VERSION

    return ComPoissonGroups


def __getattr__(name: str):
    if name == "ComPoissonGroups":
        cls = globals()[name] = _op_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def com_groups_loglik(log_mu, nu, total, n, lf_sum):
    """The log-likelihood of each group (a PyTensor vector): ``ComPoissonGroups()(...)[0]``."""
    op = globals().get("ComPoissonGroups") or __getattr__("ComPoissonGroups")
    return op()(log_mu, nu, total, n, lf_sum)[0]
