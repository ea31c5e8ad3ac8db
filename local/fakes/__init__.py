"""In-memory vendor fakes (WSGI apps) for tests, the local stack and benchmarks."""
