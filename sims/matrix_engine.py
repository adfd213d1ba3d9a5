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
    Empty velocity lists start at zero (:class:`MatrixEngine` fills them).
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
    """

    def __init__(self, net: Network, rule: Rule, hidden: Transfer, output: Transfer, loss, *,
                 lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 batch_size: int | None = None, mirror_scheme: str = "alternating",
                 constraints: FeedbackConstraints | None = None):
        self.net, self.rule, self.loss = net, rule, loss
        self.constraints = constraints or FeedbackConstraints()
        self.transfers = [hidden] * (len(net.W) - 1) + [output]
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.batch_size = batch_size
        MIRROR_SCHEME.check("mirror_scheme", mirror_scheme)
        self.mirror_scheme = mirror_scheme
        for velocities, weights in ((net.velocity_W, net.W), (net.velocity_b, net.b),
                                    (net.velocity_B, net.B)):
            if not velocities:
                velocities.extend(np.zeros_like(w) for w in weights)

    # --- the two passes ---------------------------------------------------------------

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """Net inputs ``a_1..a_L`` and activities ``x_0..x_L`` for a batch ``x`` (batch, n_0)."""
        activities, net_inputs = [x], []
        for W, b, phi in zip(self.net.W, self.net.b, self.transfers):
            a = activities[-1] @ W.T + b
            net_inputs.append(a)
            activities.append(phi.phi(a))
        return net_inputs, activities

    def feedback_matrices(self) -> list[Array]:
        """The matrices that carry the error down, as the rule (and ``levels``) define them."""
        deliver = self.constraints.deliver
        return [deliver(self.rule.feedback_weights(W, B)) for W, B in zip(self.net.W, self.net.B)]

    def _constrain(self, l: int, B: Array) -> Array:
        """Layer ``l``'s B after an update: wrong-sign entries zeroed under Dale's principle."""
        signs = self.net.feedback_signs
        return B if signs is None else project_dale(B, signs[l])

    def backward(self, net_inputs: list[Array], y: Array,
                 feedback: list[Array] | None = None) -> list[Array]:
        """Errors ``delta_1..delta_L`` (each (batch, n_l)) sent down through ``feedback``.

        ``delta_L = dloss/da_L``; ``delta_{l-1} = phi'(a_{l-1}) * (delta_l B_l^T)``.
        With ``feedback = [W^T ...]`` this is backpropagation.
        """
        feedback = self.feedback_matrices() if feedback is None else feedback
        deltas = [self.loss.delta(net_inputs[-1], y)]
        for l in range(len(self.net.W) - 1, 0, -1):
            carried = deltas[0] @ feedback[l].T
            deltas.insert(0, self.transfers[l - 1].dphi(net_inputs[l - 1]) * carried)
        return deltas

    def backprop_deltas(self, net_inputs: list[Array], y: Array) -> list[Array]:
        return self.backward(net_inputs, y, [W.T for W in self.net.W])

    # --- the two phases ---------------------------------------------------------------

    def engaged_step(self, x: Array, y: Array) -> float:
        """One task-learning batch: W (and B where the rule says) learn. Returns the loss.

        W's gradient is ``delta_l^T x_{l-1} / batch_size`` plus weight decay; B learns
        from the same Hebbian product of the signals at its synapses
        (:meth:`learn_feedback`), never from W.
        """
        net_inputs, activities = self.forward(x)
        deltas = self.backward(net_inputs, y)
        batch = self.batch_size or x.shape[0]
        for l, (delta, pre) in enumerate(zip(deltas, activities[:-1])):
            hebbian = delta.T @ pre / batch
            self.learn_feedback(l, hebbian.T)
            self.learn_forward(l, hebbian, delta.sum(axis=0) / batch)
        return self.loss.value(net_inputs[-1], y)

    def learn_forward(self, l: int, hebbian: Array, grad_b: Array) -> None:
        """W_l and b_l take one optimiser step: ``hebbian = delta_l^T x_{l-1} / batch``
        (W's shape) plus weight decay, momentum, the rule's forward decay."""
        net = self.net
        grad_W = hebbian + self.weight_decay * net.W[l]
        net.velocity_W[l] = self.momentum * net.velocity_W[l] + grad_W
        net.velocity_b[l] = self.momentum * net.velocity_b[l] + grad_b
        net.W[l] = net.W[l] - self.lr * net.velocity_W[l] - self.rule.forward_decay * net.W[l]
        net.b[l] = net.b[l] - self.lr * net.velocity_b[l]

    def learn_feedback(self, l: int, hebbian: Array) -> None:
        """B_l's engaged update from the local signals only: ``hebbian = x_{l-1}^T delta_l /
        batch`` (B's shape) through the rule (:meth:`Rule.engaged_gradient`), with B's own
        momentum, weight decay of B's own value, and the rule's decay; then the feedback
        constraints. Nothing here reads W."""
        net, rule = self.net, self.rule
        grad_B = rule.engaged_gradient(net.B[l], hebbian)
        if grad_B is None:
            return
        net.velocity_B[l] = (self.momentum * net.velocity_B[l] + grad_B
                             + self.weight_decay * net.B[l])
        dB = -(self.lr * net.velocity_B[l]) - rule.engaged_decay * net.B[l]
        net.B[l] = self._constrain(l, net.B[l] + dB)

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
        pre = noise[0]
        for l, (W, b, phi) in enumerate(zip(net.W, net.b, self.transfers)):
            if self.mirror_scheme == "alternating":
                pre = noise[l]
            post = phi.phi(pre @ W.T + b)
            self.mirror_learn(l, pre, post)
            if self.mirror_scheme == "simultaneous" and l + 1 < len(noise):
                pre = post + noise[l + 1]

    def mirror_learn(self, l: int, pre: Array, post: Array) -> None:
        """B_l learns from one mirror batch of the activity on its two sides (``pre``: the
        noise below, ``(batch, n_{l-1})``; ``post``: the layer's response, ``(batch, n_l)``),
        then the constraints and the rule's growth control. Nothing here reads W."""
        net, rule = self.net, self.rule
        updated = self._constrain(l, net.B[l] + rule.mirror_update(net.B[l], pre, post))
        net.B[l] = rule.control_growth(updated)   # a positive rescaling keeps the signs

    def replay(self, events, x: Array, y: Array, mirror_noise) -> None:
        """Run ``events`` (from :func:`sims.schedule.phase_plan`) in order: an engaged
        step on ``x[samples]``, ``y[samples]``, or a mirror step on the next of
        ``mirror_noise`` (one ``draw_mirror_noise`` result per mirror event)."""
        draws = iter(mirror_noise or [])
        for event in events:
            if event.phase == ENGAGED:
                self.engaged_step(x[event.samples], y[event.samples])
            else:
                self.mirror_step(next(draws))
