"""Zero-mean iid noise that drives a layer during the mirror phase."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE_DISTRIBUTIONS = ("gaussian", "uniform")


@dataclass(frozen=True)
class NoiseSource:
    """Zero-mean iid noise of standard deviation ``sigma`` (dimensionless rate units).

    ``uniform`` noise is drawn on ``[-sigma*sqrt(3), sigma*sqrt(3)]`` so that both
    distributions have variance ``sigma**2``, the quantity the weight-mirror
    theory depends on (E[xi xi^T] = sigma^2 I).
    """

    distribution: str = "gaussian"
    sigma: float = 1.0

    def __post_init__(self):
        if self.distribution not in NOISE_DISTRIBUTIONS:
            raise ValueError(f"NoiseSource.distribution: must be one of "
                             f"{', '.join(NOISE_DISTRIBUTIONS)} (got {self.distribution!r})")
        if not self.sigma > 0:
            raise ValueError(f"NoiseSource.sigma: must be > 0 (got {self.sigma})")

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Draw an array of ``shape`` from ``rng``."""
        if self.distribution == "gaussian":   # the draws of rng.normal(0, sigma), faster
            values = rng.standard_normal(shape)
            if self.sigma != 1.0:
                values *= self.sigma
            return values
        half_width = self.sigma * np.sqrt(3.0)
        return rng.uniform(-half_width, half_width, size=shape)
