"""DTRP: backprop in K decoupled modules that learn in parallel from delayed errors, with
re-computation and weight prediction.

Peng et al., decoupled learning with re-computation and weight prediction (PLOS ONE 2023;
NTU thesis "Auxiliary network design for local learning in deep neural networks"). The
layers are split into K consecutive modules. A batch climbs through every module in one
step, but its error descends one module per step, so module k (1 = input side) learns
from an error ``K - k`` steps old, while the modules above already learn from newer
batches: no module waits for the others (no backward locking), as no brain area waits for
an error to come back. Two devices make the delay workable:

- **re-computation**: a module keeps only the *input* of each batch in flight (not the
  activities of all its layers) and recomputes its forward pass when the error arrives;
- **weight prediction**: the forward pass of a batch uses the weights the module is
  expected to have when that batch's error arrives, ``W + d * (last step of W)`` for a
  delay of ``d`` steps, so the forward and the later backward pass see about the same W.

Inside a module the error is backpropagated (``B = W^T``): DTRP relaxes backprop's locking
in time, not its weight transport. With ``K = 1`` this is plain backprop.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..models.params import ParameterError
from ..models.rules import Backprop
from .matrix_engine import MatrixEngine

Array = np.ndarray


def module_layers(n_layers: int, modules: int) -> list[range]:
    """The weight layers (Python indices) of each module, input side first, as even as
    possible (the upper modules take the extra layers)."""
    if not 1 <= modules <= n_layers:
        raise ParameterError(f"training.modules: must be 1 .. {n_layers} (the weight layers) "
                             f"(got {modules})", "training.modules")
    sizes = [n_layers // modules + (k >= modules - n_layers % modules) for k in range(modules)]
    starts = np.cumsum([0] + sizes)
    return [range(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]


class DecoupledEngine(MatrixEngine):
    """A backprop :class:`MatrixEngine` trained as K decoupled modules (see the module doc).

    Parameters
    ----------
    net, hidden, output, loss, lr, momentum, weight_decay, batch_size, dtype :
        As for :class:`MatrixEngine` (the rule is backprop).
    modules : int
        K, the number of modules (1 .. number of weight layers).
    weight_prediction : bool
        Forward passes use predicted weights (False: the ablation, current weights).
    """

    def __init__(self, net, hidden, output, loss, *, modules: int, weight_prediction: bool,
                 **options):
        super().__init__(net, Backprop(), hidden, output, loss, **options)
        self.modules = module_layers(len(net.W), modules)
        self.delays = [len(self.modules) - 1 - k for k in range(len(self.modules))]
        self.weight_prediction = weight_prediction
        self.inputs = [deque() for _ in self.modules]   # inputs of the batches in flight
        self.errors = [deque() for _ in self.modules]   # errors arrived from the module above
        self.last_W = [np.zeros_like(W) for W in net.W]
        self.last_b = [np.zeros_like(b) for b in net.b]

    def engaged_step(self, x: Array, y: Array) -> float:
        """Batch ``x``, ``y`` climbs through every module; each module then learns from the
        oldest error that has reached it (the top one from this batch's loss). Returns the
        loss of this batch."""
        x, y = np.asarray(x, dtype=self.dtype), np.asarray(y, dtype=self.dtype)
        activity = x
        for k, layers in enumerate(self.modules):
            self.inputs[k].append(activity)
            activity = self._module_forward(layers, activity, self.delays[k])[1][-1]
        loss = None
        for k in range(len(self.modules)):          # bottom up: an error sent now waits
            if k == len(self.modules) - 1:           # for the next step
                loss = self._learn_module(k, self.inputs[k].popleft(), target=y)
            elif self.errors[k]:
                self._learn_module(k, self.inputs[k].popleft(), error=self.errors[k].popleft())
        return loss

    def _module_forward(self, layers: range, x: Array, delay: int) -> tuple[list, list]:
        """Net inputs and activities (input first) of one module's layers, with the weights
        predicted ``delay`` steps ahead (or the current ones)."""
        net_inputs, activities = [], [x]
        ahead = delay if self.weight_prediction else 0
        for l in layers:
            W = self.net.W[l] + ahead * self.last_W[l] if ahead else self.net.W[l]
            b = self.net.b[l] + ahead * self.last_b[l] if ahead else self.net.b[l]
            net_inputs.append(activities[-1] @ W.T + b)
            activities.append(self.transfers[l].phi(net_inputs[-1]))
        return net_inputs, activities

    def _learn_module(self, k: int, x: Array, *, target: Array | None = None,
                      error: Array | None = None) -> float | None:
        """Module k recomputes its forward pass on its stored input ``x`` with its current
        weights, backpropagates the loss gradient (top module, ``target``) or the delayed
        ``error`` with respect to its output, learns, and sends the error with respect to
        its input to the module below."""
        layers = self.modules[k]
        net_inputs, activities = self._module_forward(layers, x, 0)
        loss = None
        if target is not None:
            loss, delta = self.loss.value_and_delta(net_inputs[-1], target)
        else:
            delta = self.transfers[layers[-1]].dphi(net_inputs[-1]) * error
        batch = self.batch_size or x.shape[0]
        for i in reversed(range(len(layers))):
            l = layers[i]
            below = delta @ self.net.W[l]           # sent down before W changes
            W_before, b_before = self.net.W[l].copy(), self.net.b[l].copy()
            self.learn_forward(l, delta.T @ activities[i] / batch, delta.sum(axis=0) / batch)
            self.last_W[l] = self.net.W[l] - W_before
            self.last_b[l] = self.net.b[l] - b_before
            if i:
                delta = self.transfers[l - 1].dphi(net_inputs[i - 1]) * below
        if k:
            self.errors[k - 1].append(below)
        return loss

    def memory(self, batch: int) -> list[dict]:
        """Per module, bytes held for the batches in flight: with re-computation (their
        inputs) and, for comparison, without (every layer's net input and activity)."""
        item = np.dtype(self.dtype).itemsize
        rows = []
        for layers, delay in zip(self.modules, self.delays):
            n_in = self.net.W[layers[0]].shape[1]
            widths = sum(self.net.W[l].shape[0] for l in layers)
            in_flight = delay + 1
            rows.append({"layers": [l + 1 for l in layers], "delay_steps": delay,
                         "recomputation_bytes": in_flight * batch * n_in * item,
                         "stored_activities_bytes": in_flight * batch * (n_in + 2 * widths)
                                                    * item})
        return rows
