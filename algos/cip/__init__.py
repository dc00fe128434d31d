"""CIP (Cao et al., ICLR 2025): causal information prioritisation on SAC. `discovery` (the
reward row of the causal graph over [state, action, reward], and the weights it gives),
`augment` (counterfactual swaps of the state dimensions that do not drive the reward)."""
