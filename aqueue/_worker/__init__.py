"""The worker's internals: its services and the running of one attempt.

The public class is :class:`aqueue.worker.Worker`; nothing here is API. Each
module is one duty: :mod:`.attempts` (start, run and record one attempt),
:mod:`.execution` (one attempt's function → an outcome), :mod:`.completer`
(batched outcome writes), :mod:`.lease_keeper`, :mod:`.rescuer`,
:mod:`.heartbeat` (the workers registry), :mod:`.cancel_watch`,
:mod:`.loop_monitor`, :mod:`.threads` (sync tasks' threads) and
:mod:`.shutdown` (the bounded stop).
"""
