"""The `zsris` command and what it runs: evaluation, bags, the live demo, benchmarks."""
