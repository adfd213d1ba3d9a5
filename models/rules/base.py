"""What every learning rule declares: one protocol, answered by each rule in its own file.

A rule says how the feedback weights ``B_l`` are set or learned; the forward weights
``W_l`` always learn from the error that ``B`` delivers,
``dW_l = -eta * delta_l x_{l-1}^T``. A rule is a frozen dataclass whose fields are its
parameters: they are checked once, when the rule is made (errors name
``rule.<name>.<field>``), and the config section ``[rule.<name>]`` is generated from them.

The protocol (every method exists on every rule; the base class gives the defaults of a
rule whose feedback is fixed after initialisation):

- matrix form: :meth:`Rule.init_feedback`, :meth:`Rule.feedback_weights` (what B
  delivers), :meth:`Rule.hidden_error` (how a hidden layer forms its error from what B
  delivers), :meth:`Rule.engaged_gradient` (B's change in an engaged step, from local
  signals only), :attr:`Rule.engaged_decay`, :attr:`Rule.forward_decay`;
- the mirror phase: :attr:`Rule.uses_mirror_phase`, :attr:`Rule.mirror_noise`,
  :meth:`Rule.mirror_update`, :meth:`Rule.control_growth`;
- circuit forms: :meth:`Rule.rate_plasticity` and :meth:`Rule.spiking_plasticity`, each a
  :class:`Plasticity` (Brian2 abstract code as strings; no Brian2 import) or None where
  the rule has no such form; :meth:`Rule.error_form`, the hidden error as an
  :class:`ErrorForm` (an expression a rate circuit's feedback neurons compute).

Shapes: ``W_l`` is ``(n_l, n_{l-1})``, ``B_l`` is ``(n_{l-1}, n_l)`` like ``W_l^T``;
batches are rows: ``x_{l-1}`` is ``(batch, n_{l-1})``, ``delta_l`` is ``(batch, n_l)``.

Identifiers a rate plasticity's code may use (the circuit provides them; see
``circuits/equations.py``): ``w`` (the synapse), the rule's own ``parameters`` and
``variables``; ``delta_pre`` (the error of the presynaptic feedback neuron, delta_l),
``r_drive_pre`` (its forward partner's noise-free rate phi(a_l)), ``r_fwd_post`` (the
rate of the postsynaptic feedback neuron's forward partner, x_{l-1}, noise included);
the broadcast gates ``was_engaged(t)`` and ``was_mirror(t, layer)`` (1 if the
presentation that has just ended was engaged, or mirrored this layer). The code runs
once per presentation, at its end.

A spiking plasticity's code (a template with ``{weight}`` for the synapse variable and
``{sign}``, +1 on an excitatory and -1 on an inhibitory route of Dale's law) runs at every
time step and may use: ``own_pre`` (the presynaptic feedback neuron's decoded value,
delta_l), ``x_fwd_post`` (the decoded rate of the postsynaptic neuron's forward partner),
``z_fwd_pre``, ``m_fwd_pre``, ``z_fwd_post``, ``m_fwd_post`` (fast and slow spike traces of
the forward partners, Hz), ``gain_pre``, ``gain_post`` (Hz per unit of value), ``dt``,
the gates ``engaged_now(t)`` and ``mirror_now(t, layer)``, and the per-second rates
``eta``, ``decay`` (the rule's per-presentation parameters spread over the learning part
of a presentation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np

from ..noise import NoiseSource
from ..params import ParameterError, check_fields

Array = np.ndarray


def uniform_feedback(rng: np.random.Generator, W: Array, scale: float) -> Array:
    """Random feedback weights ``scale * U(-1, 1) / sqrt(n_l)`` of ``W``'s transposed shape.

    ``1/sqrt(n_l)`` is the fan-in scaling of the feedback pathway (it sums over
    the ``n_l`` errors of the layer above), so ``scale = 1`` gives a feedback
    signal of the same size as a standard forward initialisation would.
    """
    n_post, n_pre = W.shape
    return scale * rng.uniform(-1.0, 1.0, size=(n_pre, n_post)) / np.sqrt(n_post)


@dataclass(frozen=True)
class Plasticity:
    """A rule's plasticity of the feedback synapse groups B_l in a circuit.

    Attributes
    ----------
    update : str
        Brian2 abstract code that changes the synapse (rate circuits: run once per
        presentation; spiking circuits: a template run every time step, see the module
        docstring). Empty: the synapses never change (fixed feedback).
    parameters : dict of str to float
        Values of the ``(shared, constant)`` synaptic parameters the code reads, per
        presentation (e.g. ``eta``, ``decay``). A standalone build takes other values at
        run time.
    variables : str
        Equations of further synaptic variables the code uses (``name : 1`` lines).
    initial : callable or None
        ``initial(W_l, B_l)`` -> ``{variable: (n_{l-1}, n_l) matrix}``: the synapses'
        starting values from the matrix engine's ``W_l`` and feedback state ``B_l``;
        None: ``w`` starts at ``B_l``.
    """

    update: str = ""
    parameters: dict[str, float] = field(default_factory=dict)
    variables: str = ""
    initial: Callable[[Array, Array], dict[str, Array]] | None = None

    @property
    def plastic(self) -> bool:
        return bool(self.update.strip())

    def structure(self) -> tuple:
        """What of this plasticity a compiled circuit depends on (not the values)."""
        return (self.update, self.variables, tuple(sorted(self.parameters)))


#: Fixed feedback: the synapses keep their initial weights.
FIXED = Plasticity()


@dataclass(frozen=True)
class ErrorForm:
    """How a hidden feedback neuron forms its error ``delta_{l-1}`` in a rate circuit.

    Attributes
    ----------
    expression : str
        A Brian2 expression of ``a`` (the net input of the neuron's forward partner),
        ``carried`` (the error arriving from above through B, ``B_l delta_l``), the names in
        ``parameters``, and the pseudo-functions ``phi(...)`` and ``dphi(...)`` of the layer's
        transfer function, which a circuit expands into the transfer's own expressions.
    parameters : dict of str to float
        Values of the ``(shared, constant)`` parameters the expression reads.
    """

    expression: str = "dphi(a) * carried"
    parameters: dict[str, float] = field(default_factory=dict)

    def structure(self) -> tuple:
        """What of this form a compiled circuit depends on (not the values)."""
        return (self.expression, tuple(sorted(self.parameters)))


#: Backprop's chain of derivatives: ``delta_{l-1} = phi'(a_{l-1}) * (B_l delta_l)``.
CHAIN_RULE = ErrorForm()


@dataclass(frozen=True)
class Rule:
    """Base class: feedback weights fixed after initialisation (no learning).

    Class attributes
    ----------------
    name : str
        The rule's key in the registry and its config section ``[rule.<name>]``.
    transports_weights : bool
        B is read from W (not biologically local); engines and checks report it.
    uses_mirror_phase : bool
        The rule learns B in a separate mirror phase driven by :attr:`mirror_noise`.
    """

    name: ClassVar[str] = "rule"
    transports_weights: ClassVar[bool] = False
    uses_mirror_phase: ClassVar[bool] = False

    def __post_init__(self):
        check_fields(self, f"rule.{self.name}")

    # --- matrix form ------------------------------------------------------------------

    def init_feedback(self, rng: np.random.Generator, W: Array) -> Array:
        """The initial feedback state for forward weights ``W`` (shape of ``W.T``)."""
        raise NotImplementedError(f"rule {self.name!r} does not say how B starts")

    def feedback_weights(self, W: Array, B: Array) -> Array:
        """The matrix that carries the error from layer l down to layer l-1."""
        return B

    def hidden_error(self, transfer, a: Array, x: Array, carried: Array) -> Array:
        """The error ``delta_{l-1}`` (batch, n_{l-1}) of a hidden layer with net input ``a``,
        activity ``x = phi(a)`` and ``carried = delta_l B_l^T`` arriving from above (what
        :meth:`feedback_weights` delivers): the chain of derivatives ``phi'(a) * carried``.
        A rule that overrides this says the same in :meth:`error_form`."""
        return transfer.dphi(a) * carried

    def error_form(self) -> ErrorForm:
        """:meth:`hidden_error` as a rate circuit computes it (see :class:`ErrorForm`)."""
        return CHAIN_RULE

    def engaged_gradient(self, B: Array, hebbian: Array) -> Array | None:
        """B's gradient-like term in an engaged step, or None (B does not change then).

        ``hebbian`` is ``x_{l-1}^T delta_l / batch`` (B's shape): the product of the two
        signals present at a feedback synapse, the activity below and the error above.
        The engine treats the result as it treats W's gradient (momentum, weight decay
        with B's own value, learning rate): ``B <- B - lr * v_B - engaged_decay * B``.
        A rule never sees W here, so its engaged update is local by construction.
        """
        return None

    @property
    def engaged_decay(self) -> float:
        """Per-step fraction by which B shrinks in an engaged step (with its gradient)."""
        return 0.0

    @property
    def forward_decay(self) -> float:
        """Per-step fraction by which W shrinks in an engaged step (Kolen-Pollack)."""
        return 0.0

    # --- the mirror phase -------------------------------------------------------------

    @property
    def mirror_noise(self) -> NoiseSource | None:
        """The noise that drives each layer in a mirror phase; None without one."""
        return None

    def mirror_update(self, B: Array, pre: Array, post: Array) -> Array:
        """Change of B in one mirror batch: ``pre`` ``(batch, n_{l-1})`` is the noise (or
        noisy activity) below, ``post`` ``(batch, n_l)`` the layer's response."""
        raise TypeError(f"rule {self.name!r} has no mirror phase")

    def mirror_rates(self) -> tuple[float, float] | None:
        """``(eta_B, lambda_B)`` when :meth:`mirror_update` is the Hebbian
        ``eta_B <pre post^T> - lambda_B B``, so an engine may fuse it into one BLAS call
        (the same update, in other rounding); None: an engine calls :meth:`mirror_update`."""
        return None

    def control_growth(self, B: Array) -> Array:
        """B after a mirror update, rescaled if the rule controls its size."""
        return B

    # --- circuit forms ----------------------------------------------------------------

    def rate_plasticity(self, lr: float) -> Plasticity | None:
        """B's plasticity in a rate circuit whose W learns at ``lr``; None: no rate form."""
        return FIXED

    def spiking_plasticity(self, lr: float) -> Plasticity | None:
        """B's plasticity in a spiking circuit (a template, see the module docstring);
        None: no spiking form."""
        return FIXED

    def no_circuit_form(self, kind: str) -> ParameterError:
        """The error a circuit of ``kind`` ("rate" or "spiking") raises for this rule."""
        return ParameterError(f"rule.name: rule {self.name!r} has no {kind} circuit form")
