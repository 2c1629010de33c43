"""Solutions to the exercises of tutorial 02 (dropout, autoencoders, pretraining)."""

import numpy as np


def inverted_dropout_mask(rng, shape, rate):
    """Exercise 1. Keep an entry when a uniform number is at least ``rate`` (probability
    1 - rate) and scale the kept ones by 1/(1 - rate), so that E[m] = 1."""
    return (rng.random(shape) >= rate) / (1.0 - rate)


def fan_in_layer(rng, d_in, d_out):
    """Exercise 2. U(-c, c) with c = 1/sqrt(d_in) has variance c^2/3 = 1/(3 d_in), so a
    layer's pre-activation has about a third of its input's second moment, whatever
    d_in; a ReLU halves it again."""
    bound = 1.0 / np.sqrt(d_in)
    return rng.uniform(-bound, bound, (d_in, d_out)), rng.uniform(-bound, bound, d_out)
