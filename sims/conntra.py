"""CoNNTrA: training a network whose weights and biases are ternary, by combinatorial search.

Date, Carothers, Mitchell, Hendler & Magdon-Ismail, "Training deep neural networks with
constrained learning parameters" (2020), arXiv:2009.00540. It is not a feedback rule:
nothing is sent back through the network. Every learning parameter takes a value in
``{-1, 0, +1}``; a sweep visits the parameters one by one (coordinate descent) and sets
each to the value of the set that gives the lowest loss on the current batch, the others
fixed. Net inputs are ``a_l = T_l x_{l-1} + t_l`` with integer ternary ``T_l``, ``t_l``: no
scale. (A fixed fan-in scale ``1 / sqrt(n_{l-1})``, as the float networks
here are initialised, was measured to cap the net inputs so that the search stalls: Iris
92.1 % and digits 93.9 % against 100 % and 97.0 % without it, seeds 0-4 and 0-1.)
"""
from __future__ import annotations

import numpy as np

from ..models.constraints import BITS_PER_TERNARY, TERNARY_VALUES
from ..models.rules import Backprop
from .matrix_engine import MatrixEngine, Network

Array = np.ndarray


def ternary_network(sizes: list[int], rng: np.random.Generator) -> tuple[list[Array], list[Array]]:
    """Random integer ternary weights ``T_l`` (n_l, n_{l-1}) and biases ``t_l`` (n_l,), each
    value equally likely."""
    weights = [rng.integers(-1, 2, size=(n_out, n_in)).astype(np.int8)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.integers(-1, 2, size=n_out).astype(np.int8) for n_out in sizes[1:]]
    return weights, biases


class ConntraEngine(MatrixEngine):
    """A :class:`MatrixEngine` whose engaged step is a CoNNTrA sweep over every parameter.

    Its float ``net.W[l]``, ``net.b[l]`` always equal ``T_l`` and ``t_l``, so the
    forward pass, the metrics and the results folder are the matrix engine's. There is no
    feedback pathway: ``net.B`` holds ``W^T`` (as backprop's would), and the run records no
    alignment (:attr:`has_feedback` is False).

    Parameters
    ----------
    weights, biases : lists of int8 arrays
        The starting ``T_l`` (n_l, n_{l-1}) and ``t_l`` (n_l,), values in {-1, 0, 1}.
    hidden, output, loss :
        As for :class:`MatrixEngine`.
    rng : np.random.Generator
        The order in which each sweep visits a layer's parameters.
    """

    has_feedback = False

    def __init__(self, weights: list[Array], biases: list[Array], hidden, output, loss, *,
                 rng: np.random.Generator, batch_size: int | None = None):
        self.ternary_weights = [np.array(T, dtype=np.int8) for T in weights]
        self.ternary_biases = [np.array(t, dtype=np.int8) for t in biases]
        W = [T.astype(float) for T in self.ternary_weights]
        b = [t.astype(float) for t in self.ternary_biases]
        net = Network(W, b, [w.T.copy() for w in W])
        super().__init__(net, Backprop(), hidden, output, loss, lr=1.0, batch_size=batch_size)
        self.rng = rng

    parameter_bits = BITS_PER_TERNARY

    def ternary_network(self):
        """The network as it stands, as a :class:`~mirrorlab.circuits.ternary.TernaryNetwork`
        (scales 1), which runs as a Brian2 circuit with ternary synapses."""
        # imported here: Brian2 cannot be imported in a Dask worker's thread, where matrix
        # runs of sweeps execute
        from ..circuits.ternary import TernaryNetwork

        return TernaryNetwork([T.copy() for T in self.ternary_weights],
                              [t.copy() for t in self.ternary_biases],
                              [1.0] * len(self.ternary_weights), self.transfers[0].name,
                              self.transfers[-1].name)

    def engaged_step(self, x: Array, y: Array) -> float:
        """One sweep over every parameter, output layer first, on the batch ``x``, ``y``:
        each is set to the value of ``TERNARY_VALUES`` with the least loss (kept on a tie).
        Returns the batch loss after the sweep."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        net_inputs, activities = self.forward(x)
        for l in reversed(range(len(self.ternary_weights))):
            n_out, n_in = self.ternary_weights[l].shape
            for index in self.rng.permutation(n_out * (n_in + 1)):
                unit, column = divmod(int(index), n_in + 1)
                self._set_best(l, unit, column, net_inputs, activities, y)
        return self.loss.value(net_inputs[-1], y)

    def _set_best(self, l: int, unit: int, column: int, net_inputs, activities, y) -> None:
        """Parameter ``column`` of ``unit`` in layer ``l`` (the bias when ``column == n_in``)
        to its best ternary value; ``net_inputs`` and ``activities`` follow in place."""
        T, t = self.ternary_weights[l], self.ternary_biases[l]
        is_bias = column == T.shape[1]
        current = int(t[unit] if is_bias else T[unit, column])
        source = 1.0 if is_bias else activities[l][:, column]
        a = net_inputs[l][:, unit].copy()
        best, best_loss = current, self.loss.value(net_inputs[-1], y)
        for value in TERNARY_VALUES:
            if value == current:
                continue
            trial = a + (value - current) * source
            loss = self._loss_from(l, unit, trial, net_inputs, activities, y)
            if loss < best_loss:
                best, best_loss = value, loss
        if best == current:
            return
        if is_bias:
            t[unit] = best
            self.net.b[l][unit] = best
        else:
            T[unit, column] = best
            self.net.W[l][unit, column] = self.net.B[l][column, unit] = best
        net_inputs[l][:, unit] = a + (best - current) * source
        self._propagate(l, net_inputs, activities)

    def _loss_from(self, l: int, unit: int, column: Array, net_inputs, activities, y) -> float:
        """The batch loss if unit ``unit`` of layer ``l`` had the net inputs ``column``: one
        unit's change reaches the next layer as a rank-one change of its net inputs."""
        last = len(self.net.W) - 1
        if l == last:
            a = net_inputs[l].copy()
            a[:, unit] = column
            return self.loss.value(a, y)
        change = self.transfers[l].phi(column) - activities[l + 1][:, unit]
        a = net_inputs[l + 1] + np.outer(change, self.net.W[l + 1][:, unit])
        for k in range(l + 1, last):
            a = self.transfers[k].phi(a) @ self.net.W[k + 1].T + self.net.b[k + 1]
        return self.loss.value(a, y)

    def _propagate(self, l: int, net_inputs, activities) -> None:
        """Activities of layer ``l`` and everything above from ``net_inputs[l]``, in place."""
        for k in range(l, len(self.net.W)):
            if k > l:
                net_inputs[k][...] = activities[k] @ self.net.W[k].T + self.net.b[k]
            if k + 1 < len(activities):
                activities[k + 1][...] = self.transfers[k].phi(net_inputs[k])
