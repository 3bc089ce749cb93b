"""The lab: running with repeats, process-tree probes, statistics, environment."""
