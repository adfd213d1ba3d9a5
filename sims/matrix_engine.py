"""The matrix engine: every rule as dense numpy updates (float64).

This is the ground truth the Brian2 circuits are tested against and the fast
path for sweeps. Conventions: ``W[l]`` is ``(n_{l+1}, n_l)`` (Python index l
is weight layer l+1 of the papers), ``B[l]`` is ``W[l]``'s transposed shape,
batches are rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.constraints import FeedbackConstraints, project_dale
from ..models.schedule import ENGAGED, MIRROR_SCHEME
from ..models.rules.base import Rule
from ..models.transfer import Transfer

Array = np.ndarray


class DivergenceError(FloatingPointError):
    """The run blew up (a loss or weights not finite, or grown beyond
    ``training.divergence_factor``); the message gives the step, the layer and what grew."""


@dataclass
class Network:
    """Forward weights and biases, the rule's feedback state, optimiser velocities.

    ``feedback_signs[l]`` (one +1/-1 per column of ``B[l]``) are the fixed signs
    of the feedback neurons under Dale's principle; None = no sign constraint.
    Empty velocity lists start at zero (:class:`MatrixEngine` fills them); they are the
    optimiser's momentum state and stay zero without momentum.
    """

    W: list[Array]
    b: list[Array]
    B: list[Array]
    velocity_W: list[Array] = field(default_factory=list)
    velocity_b: list[Array] = field(default_factory=list)
    feedback_signs: list[Array] | None = None
    velocity_B: list[Array] = field(default_factory=list)

    @property
    def sizes(self) -> list[int]:
        return [self.W[0].shape[1]] + [w.shape[0] for w in self.W]


def init_network(sizes: list[int], rule: Rule, rng: np.random.Generator,
                 init_gain: float = 1.0, constraints: FeedbackConstraints | None = None) -> Network:
    """Forward weights ``init_gain * U(-1, 1) / sqrt(n_in)``, zero biases, the rule's B.

    Drawn from ``rng`` in this order: every W, every B, then (Dale's principle
    only) the feedback neurons' signs, onto which the initial B is projected.
    """
    W = [init_gain * rng.uniform(-1, 1, size=(n_out, n_in)) / np.sqrt(n_in)
         for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(n) for n in sizes[1:]]
    B = [rule.init_feedback(rng, w) for w in W]
    signs = constraints.draw_signs(rng, B) if constraints is not None else None
    if signs is not None:
        B = [project_dale(fb, s) for fb, s in zip(B, signs)]
    return Network(W, b, B, [np.zeros_like(w) for w in W], [np.zeros_like(v) for v in b],
                   signs)


class MatrixEngine:
    """A layered network trained by one rule.

    Parameters
    ----------
    net : Network
    rule : Rule
    hidden, output : Transfer
        Transfer functions of hidden layers and of the output layer.
    loss : object with ``value``, ``delta``, ``predict`` (see ``models.losses``)
    lr, momentum, weight_decay : float
        Minibatch SGD: ``v <- momentum v + grad``, ``W <- W - lr v``.
    batch_size : int, optional
        The training batch size: gradients are sums over a batch divided by it, so every
        sample weighs ``lr / batch_size`` and a smaller last batch of an epoch takes a
        proportionally smaller step. None: divide by each batch's own size.
    mirror_scheme : {"alternating", "simultaneous"}
        How the mirror phase injects noise (see :meth:`mirror_step`).
    constraints : FeedbackConstraints, optional
        Its ``levels`` quantise the feedback that is delivered. Dale's
        principle comes with the network: whenever ``net.feedback_signs`` is
        set, B is projected onto those signs after every update.
    dtype : {"float64", "float32"}
        The precision of weights and arithmetic; inputs are cast to it.
    """

    #: Whether errors reach the hidden layers through a feedback pathway whose alignment the
    #: run measures (a trainer without one, e.g. CoNNTrA's search, says False).
    has_feedback = True

    def __init__(self, net: Network, rule: Rule, hidden: Transfer, output: Transfer, loss, *,
                 lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 batch_size: int | None = None, mirror_scheme: str = "alternating",
                 constraints: FeedbackConstraints | None = None, dtype: str = "float64"):
        self.net, self.rule, self.loss = net, rule, loss
        self.constraints = constraints or FeedbackConstraints()
        self.transfers = [hidden] * (len(net.W) - 1) + [output]
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.batch_size = batch_size
        MIRROR_SCHEME.check("mirror_scheme", mirror_scheme)
        self.mirror_scheme = mirror_scheme
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype: must be float64 or float32 (got {dtype!r})")
        # B lies in memory as W^T does (Fortran order), so that the update W and B share
        # (Kolen-Pollack's) and the mirror's Hebbian product run over both contiguously
        net.W[:] = [np.ascontiguousarray(W, dtype=self.dtype) for W in net.W]
        net.b[:] = [np.ascontiguousarray(b, dtype=self.dtype) for b in net.b]
        net.B[:] = [np.asfortranarray(B, dtype=self.dtype) for B in net.B]
        for velocities, weights in ((net.velocity_W, net.W), (net.velocity_b, net.b),
                                    (net.velocity_B, net.B)):
            if not velocities:
                velocities.extend(np.zeros_like(w) for w in weights)
        # W's update is one BLAS call unless something needs the Hebbian product itself
        hebbian = np.zeros_like(net.B[0])
        grad_B = rule.engaged_gradient(net.B[0], hebbian)
        optimiser_state = bool(momentum or weight_decay)
        self._plain = not optimiser_state and grad_B is None
        # ... or one shared scaled product when B's gradient is that product (Kolen-Pollack)
        self._shared = not optimiser_state and grad_B is hebbian
        self._buffers: dict[int, Array] = {}
        # what B delivers is B itself (no call per step), and whether B's growth is controlled
        self._delivers_state = (type(rule).feedback_weights is Rule.feedback_weights
                                and not self.constraints.levels)
        probe = np.ones((2, 2))
        self._controls_growth = rule.control_growth(probe) is not probe
        # the rule is frozen: what the hot loops ask of it, asked once
        self._forward_decay, self._engaged_decay = rule.forward_decay, rule.engaged_decay
        self._chain_rule = type(rule).hidden_error is Rule.hidden_error
        self._mirror_rates = rule.mirror_rates()

    @property
    def parameter_count(self) -> int:
        """Learning parameters of the forward network (weights and biases)."""
        return sum(W.size + b.size for W, b in zip(self.net.W, self.net.b))

    @property
    def parameter_bits(self) -> int:
        """Bits that hold one forward parameter (the float's size here)."""
        return 8 * self.dtype.itemsize

    # --- the two passes ---------------------------------------------------------------

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """Net inputs ``a_1..a_L`` and activities ``x_0..x_L`` for a batch ``x`` (batch, n_0)."""
        activities, net_inputs = [np.asarray(x, dtype=self.dtype)], []
        for W, b, phi in zip(self.net.W, self.net.b, self.transfers):
            a = activities[-1] @ W.T + b
            net_inputs.append(a)
            activities.append(phi.phi(a))
        return net_inputs, activities

    def feedback_matrices(self) -> list[Array]:
        """The matrices that carry the error down, as the rule (and ``levels``) define them."""
        return self._delivered(first=0)

    def _delivered(self, first: int) -> list[Array | None]:
        """:meth:`feedback_matrices` from layer ``first`` on (None below: the error at the
        input, which B_1 would carry, trains nothing)."""
        deliver, rule, net = self.constraints.deliver, self.rule, self.net
        if self._delivers_state:
            return net.B
        return [deliver(rule.feedback_weights(W, B)) if l >= first else None
                for l, (W, B) in enumerate(zip(net.W, net.B))]

    def _constrain(self, l: int) -> None:
        """Under Dale's principle, zero (in place) the entries of B_l whose sign disagrees
        with their feedback neuron's (see :func:`~mirrorlab.models.constraints.project_dale`)."""
        signs = self.net.feedback_signs
        if signs is not None:
            B = self.net.B[l]
            B[B * signs[l][np.newaxis, :] < 0] = 0.0

    def backward(self, net_inputs: list[Array], y: Array) -> list[Array]:
        """The errors ``delta_1..delta_L`` (each (batch, n_l)) the rule delivers.

        ``delta_L = dloss/da_L``; below it the rule's :meth:`~Rule.hidden_error` of
        ``carried = delta_l B_l^T`` (for most rules ``phi'(a_{l-1}) * carried``).
        """
        feedback, rule = self.feedback_matrices(), self.rule
        deltas = [self.loss.delta(net_inputs[-1], y)]
        for l in range(len(self.net.W) - 1, 0, -1):
            a = net_inputs[l - 1]
            phi = self.transfers[l - 1]
            deltas.insert(0, rule.hidden_error(phi, a, phi.phi(a), deltas[0] @ feedback[l].T))
        return deltas

    def backprop_deltas(self, net_inputs: list[Array], y: Array) -> list[Array]:
        """The errors backpropagation would deliver: ``delta_{l-1} = phi'(a_{l-1}) *
        (delta_l W_l)``."""
        deltas = [self.loss.delta(net_inputs[-1], y)]
        for l in range(len(self.net.W) - 1, 0, -1):
            deltas.insert(0, self.transfers[l - 1].dphi(net_inputs[l - 1])
                          * (deltas[0] @ self.net.W[l]))
        return deltas

    # --- the two phases ---------------------------------------------------------------

    def engaged_step(self, x: Array, y: Array) -> float:
        """One task-learning batch: W (and B where the rule says) learn. Returns the loss.

        The same updates as :meth:`forward`, :meth:`backward` and then, per layer,
        :meth:`learn_feedback` and :meth:`learn_forward` with the Hebbian product
        ``delta_l^T x_{l-1} / batch_size``, done with fewer passes over memory: the error
        of a layer is sent down before its matrices change, the learning rate is folded
        into one BLAS call that adds the product into W (when no momentum, weight decay
        or engaged learning of B needs the product itself), and nothing is computed that
        nothing reads (the output's rate, the error at the input).
        """
        net = self.net
        W, b = net.W, net.b
        last = len(W) - 1
        x, y = np.asarray(x, dtype=self.dtype), np.asarray(y, dtype=self.dtype)
        activities, net_inputs = [x], []
        for l in range(last + 1):
            a = np.dot(activities[l], W[l].T)
            a += b[l]
            net_inputs.append(a)
            if l < last:
                activities.append(self.transfers[l].phi(a))
        loss, delta = self.loss.value_and_delta(net_inputs[-1], y)
        feedback = self._delivered(first=1)
        batch = self.batch_size or x.shape[0]
        for l in range(last, -1, -1):
            if l:       # the error one layer down, through B_l as it was before this step
                carried = np.dot(delta, feedback[l].T)
                if self._chain_rule:
                    slope = self.transfers[l - 1].slope(net_inputs[l - 1], activities[l])
                    if slope is not None:
                        carried *= slope
                else:
                    carried = self.rule.hidden_error(self.transfers[l - 1], net_inputs[l - 1],
                                                     activities[l], carried)
            self._learn(l, delta, activities[l], batch)
            if l:
                delta = carried
        return loss

    def _learn(self, l: int, delta: Array, pre: Array, batch: int) -> None:
        """Layer l's W, b (and B) learn from ``delta`` (batch, n_l) and ``pre`` (batch, n_{l-1})."""
        net = self.net
        if self._plain:
            # W <- (1 - fd) W - ((lr / batch) delta)^T pre, b <- b - sum((lr / batch) delta):
            # the learning rate folded into the (small) error, the product into a buffer
            scaled = delta * (self.lr / batch)
            product = np.dot(scaled.T, pre, out=self._buffer(l))
            if self._forward_decay:
                net.W[l] *= 1.0 - self._forward_decay
            net.W[l] -= product
            net.b[l] -= scaled.sum(axis=0)
            return
        if self._shared:
            # W <- (1 - fd) W - lr H, B <- (1 - ed) B - lr H^T with H = delta^T pre / batch:
            # the learning rate folded into the error, the product computed once
            scaled = delta * (self.lr / batch)
            product = np.dot(scaled.T, pre, out=self._buffer(l))
            _descend(net.B[l], product.T, 1.0, self._engaged_decay)
            self._constrain(l)
            _descend(net.W[l], product, 1.0, self._forward_decay)
            net.b[l] -= scaled.sum(axis=0)
            return
        scaled = delta * (1.0 / batch)
        hebbian = np.dot(scaled.T, pre, out=self._buffer(l))       # W's shape and layout
        self.learn_feedback(l, hebbian.T)                          # B's shape and layout
        self.learn_forward(l, hebbian, scaled.sum(axis=0))

    def _buffer(self, l: int) -> Array:
        """Layer l's Hebbian product, reused from step to step (W's shape, C order; its
        transpose has B's shape and memory layout)."""
        buffer = self._buffers.get(l)
        if buffer is None:
            buffer = self._buffers[l] = np.zeros(self.net.W[l].shape, self.dtype)
        return buffer

    def learn_forward(self, l: int, hebbian: Array, grad_b: Array) -> None:
        """W_l and b_l take one optimiser step from ``hebbian = delta_l^T x_{l-1} / batch``
        (W's shape) and ``grad_b`` (the mean error): with weight decay, momentum
        (``v <- momentum v + grad``) and the rule's forward decay,
        ``W <- (1 - forward_decay) W - lr v``."""
        net = self.net
        step_W = _step_velocity(net.velocity_W[l], hebbian, self.momentum, self.weight_decay,
                                net.W[l])
        step_b = _step_velocity(net.velocity_b[l], grad_b, self.momentum)
        _descend(net.W[l], step_W, self.lr, self._forward_decay)
        _descend(net.b[l], step_b, self.lr)

    def learn_feedback(self, l: int, hebbian: Array) -> None:
        """B_l's engaged update from the local signals only: ``hebbian = x_{l-1}^T delta_l /
        batch`` (B's shape) through the rule (:meth:`Rule.engaged_gradient`), with B's own
        momentum, weight decay of B's own value, and the rule's decay; then the feedback
        constraints. Nothing here reads W."""
        net, rule = self.net, self.rule
        grad_B = rule.engaged_gradient(net.B[l], hebbian)
        if grad_B is None:
            return
        step_B = _step_velocity(net.velocity_B[l], grad_B, self.momentum, self.weight_decay,
                                net.B[l])
        _descend(net.B[l], step_B, self.lr, self._engaged_decay)
        self._constrain(l)

    def mirror_step(self, noise: list[Array]) -> None:
        """One mirror batch: B learns from noise, W is frozen.

        ``noise[l]`` is ``(batch, n_l)`` for l = 0..L-1 (see
        :func:`~mirrorlab.models.schedule.draw_mirror_noise`).

        - ``alternating``: each layer is mirrored on its own: its input carries
          only ``noise[l]``, its output is driven by W alone. Unbiased.
        - ``simultaneous``: noise enters every layer at once and propagates up:
          ``r_0 = xi_0``, ``r_l = phi(W_l r_{l-1} + b_l) + xi_l``; each B learns
          from the activities on both sides, which carry the layers below.
        """
        net = self.net
        noise = [np.asarray(xi, dtype=self.dtype) for xi in noise]
        simultaneous = self.mirror_scheme == "simultaneous"
        rates = self._mirror_rates if net.feedback_signs is None else None
        pre = noise[0]
        for l, (W, b, phi) in enumerate(zip(net.W, net.b, self.transfers)):
            if not simultaneous:
                pre = noise[l]
            a = np.dot(pre, W.T)
            a += b
            post = phi.phi(a)
            if rates is None:
                self.mirror_learn(l, pre, post)
            else:   # mirror_learn's Hebbian update, inline (no constraint to apply)
                self._mirror_hebbian(l, pre, post, *rates)
                self._control_growth(l)
            if simultaneous and l + 1 < len(noise):
                pre = post + noise[l + 1]

    def mirror_learn(self, l: int, pre: Array, post: Array) -> None:
        """B_l learns from one mirror batch of the activity on its two sides (``pre``: the
        noise below, ``(batch, n_{l-1})``; ``post``: the layer's response, ``(batch, n_l)``),
        then the constraints and the rule's growth control. Nothing here reads W."""
        net, rule = self.net, self.rule
        if self._mirror_rates is None:
            net.B[l] += rule.mirror_update(net.B[l], pre, post)
        else:
            self._mirror_hebbian(l, pre, post, *self._mirror_rates)
        self._constrain(l)
        self._control_growth(l)

    def _mirror_hebbian(self, l: int, pre: Array, post: Array, eta: float, decay: float) -> None:
        """``B <- (1 - decay) B + (eta / batch) pre^T post``, in place: the rate folded into
        the (small) response, the product into a buffer in B's memory layout."""
        B = self.net.B[l]
        product = np.dot((post * (eta / pre.shape[0])).T, pre, out=self._buffer(l))
        if decay:
            B *= 1.0 - decay
        B += product.T

    def _control_growth(self, l: int) -> None:
        """The rule's growth control of B_l, in place (a positive rescaling keeps the signs)."""
        if not self._controls_growth:
            return
        B = self.net.B[l]
        grown = self.rule.control_growth(B)
        if grown is not B:
            B[...] = grown

    def replay(self, events, x: Array, y: Array, mirror_noise) -> None:
        """Run ``events`` (from :func:`~mirrorlab.models.schedule.phase_plan`) in order: an
        engaged step on ``x[samples]``, ``y[samples]``, or a mirror step on the next of
        ``mirror_noise`` (one ``draw_mirror_noise`` result per mirror event)."""
        draws = iter(mirror_noise or [])
        for event in events:
            if event.phase == ENGAGED:
                self.engaged_step(x[event.samples], y[event.samples])
            else:
                self.mirror_step(next(draws))


def _step_velocity(velocity: Array, gradient: Array, momentum: float,
                   weight_decay: float = 0.0, weights: Array | None = None) -> Array:
    """The step direction ``gradient + weight_decay * weights``; with momentum, the velocity
    ``v <- momentum v + gradient + weight_decay * weights``, updated in place and returned
    (without momentum ``velocity`` is not touched: it stays zero)."""
    if momentum:
        velocity *= momentum
        velocity += gradient
    elif weight_decay:
        velocity = np.array(gradient, order="K")
    else:
        return gradient
    if weight_decay:
        velocity += weight_decay * weights
    return velocity


def _descend(weights: Array, step: Array, lr: float, decay: float = 0.0) -> None:
    """``weights <- (1 - decay) * weights - lr * step``, in place."""
    if decay:
        weights *= 1.0 - decay
    weights -= step if lr == 1.0 else lr * step
