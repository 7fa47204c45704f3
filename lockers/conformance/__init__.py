"""The locker protocol conformance suite: `pickup lockers conformance` (protocol §17-18)."""
