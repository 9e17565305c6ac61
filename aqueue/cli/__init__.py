"""The ``aqueue`` and ``aqueue-worker`` commands: ``main`` (:mod:`aqueue.cli.main`),
the worker (:mod:`aqueue.cli.worker`) and the admin commands (:mod:`aqueue.cli.admin`)."""
