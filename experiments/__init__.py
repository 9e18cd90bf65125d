"""Runners, batches, sweeps, the results store and the command line. No economics here."""
