"""Search strategies over generator hyperparameters Θ: one proposer interface (ask, tell, save, load)
for random and Sobol baselines and for GP-BO with hard local penalisation (appendix B–D)."""
