"""Training one trial with PyTorch: the network built from an architecture, data loading and augmentation,
the training loop, checkpoints, memory measurement and when to compile. The only package of the core that
imports torch (with the torch proposers in `nago.bo`)."""
