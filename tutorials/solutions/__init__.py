"""Worked solutions to the tutorials' exercises, one module per tutorial.

Read one after trying the exercise yourself. ``DECNP_SOLUTIONS=1 python
tutorials/01_dense_layer.py`` runs a tutorial's exercise checks on these solutions
instead of on the stubs; the tests do, so every solution here is checked.
"""
