"""The architecture generator (appendix A): search spaces of Θ, random graphs, sampling an architecture from Θ,
its shapes, parameters, MACs and memory, and drawing it. Pure Python and NumPy; never imports torch."""
