"""The matrix engine as the reference a circuit run is compared with (shared by the
circuit equivalence tests)."""
import numpy as np

from mirrorlab.sims.matrix_engine import MatrixEngine, Network


def matrix_run(plan, data) -> tuple[list, list, list]:
    """(W, b, feedback matrices) of the matrix engine driven through ``plan``: its events,
    replayed noise and initial weights."""
    spec = plan.spec
    W, b, B = plan.initial
    net = Network([w.copy() for w in W], [v.copy() for v in b], [m.copy() for m in B],
                  [np.zeros_like(w) for w in W], [np.zeros_like(v) for v in b],
                  plan.feedback_signs)
    engine = MatrixEngine(net, spec.rule, spec.transfer, spec.output_transfer, spec.loss,
                          lr=spec.lr, mirror_scheme=spec.mirror_scheme)
    engine.replay(plan.events, data.x_train, data.y_train, plan.noise)
    return net.W, net.b, engine.feedback_matrices()


def relative_errors(circuit_run, expected) -> dict[str, float]:
    """``|got - expected| / |expected|`` of every W_l, b_l, B_l of a circuit run."""
    got = (circuit_run.W, circuit_run.b, circuit_run.B)
    return {f"{name}{l + 1}": float(np.linalg.norm(g - e) / np.linalg.norm(e))
            for name, got_list, expected_list in zip("WbB", got, expected)
            for l, (g, e) in enumerate(zip(got_list, expected_list))}
