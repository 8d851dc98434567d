"""One home per skipping method: its architecture pieces, policy, objective, labels and export."""
