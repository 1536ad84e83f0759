"""tether.debug: seeing inside a running tether program (tether-only; trio has no such module).

- task-tree dumps: ``format_task_tree``, ``dump_task_tree``, ``dump_on_signal``,
  and from another process ``python -m tether ps PID`` (``serve_monitor`` or
  ``TETHER_MONITOR=1``);
- deadlock detection: ``detect_deadlocks`` (or ``TETHER_DETECT_DEADLOCKS=1``)
  raises ``DeadlockError`` instead of hanging;
- cancellation-origin tracing: ``trace_cancellations`` (or ``TETHER_TRACE_CANCEL=1``);
- seeded schedule shuffling: ``set_schedule_seed`` (or ``TETHER_SCHEDULE_SEED=N``).

See docs/debug.md.
"""

from ._cancel_trace import trace_cancellations as trace_cancellations
from ._deadlock import DeadlockError as DeadlockError
from ._deadlock import detect_deadlocks as detect_deadlocks
from ._monitor import serve_monitor as serve_monitor
from ._settings import set_schedule_seed as set_schedule_seed
from ._tree import dump_on_signal as dump_on_signal
from ._tree import dump_task_tree as dump_task_tree
from ._tree import format_task_tree as format_task_tree
