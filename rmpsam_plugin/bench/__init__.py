"""Benchmarks behind `rmpsam-matte bench`: each measures our code against a baseline timed in
the same run, because on shared farm nodes only ratios survive from one day to the next."""
