"""The peers aqueue is measured against, driven through the same workloads.

Each module here is the peer's own idiomatic use: its enqueue API, its batch
API, its own worker process. Install them with ``pip install -e '.[bench]'``.
"""
