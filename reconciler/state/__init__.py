"""State: what np applied to each node pool, kept between runs, and the lock around it.

- ``document``: the state document (``State``, ``ResourceState``) and its file rendering;
- ``protocols``: what a backend is (``StateStore``, ``JournalStore``, ``Locker``, ...);
- ``local``, ``local_lock``: the local backend (files beside each other in ``state/``);
- ``backends``: choosing a backend (local, or a ``backend`` block's pg or s3);
- ``manager``: how the rest of np reads state, or locks it and records changes;
- ``locking``: who holds a lock, and the heartbeat of a long run.
"""
