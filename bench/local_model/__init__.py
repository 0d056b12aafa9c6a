"""The local-model benchmark: small tasks, devbot and its peers, one real model on the CPU."""
