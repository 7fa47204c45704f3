"""Test support shared by the test packages and the benchmarks."""
