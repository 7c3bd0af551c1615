"""Training: the loop (one for every task), the per-task definitions, and what differs per task."""
