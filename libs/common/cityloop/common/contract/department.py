"""The department-facing events: tasks CityLoop sends (``dept.{dept_code}.tasks``) and the updates a
department's system sends back (``dept.{dept_code}.updates``, and the shared ``dept.updates`` of the
first release while it is kept readable)."""

from cityloop.common.contract import types
from cityloop.common.contract.models import (
    DeptExtensionRequested,
    DeptForwarded,
    DeptRejected,
    DeptUpdate,
    TaskAssigned,
    TaskUpdated,
    TaskWithdrawn,
)
from cityloop.common.contract.registry import DEPT_TASKS, DEPT_UPDATES, SHARED_DEPT_UPDATES, register

UPDATE_TOPICS = (DEPT_UPDATES, SHARED_DEPT_UPDATES)

register(types.TASK_ASSIGNED, TaskAssigned, topics=DEPT_TASKS, description="A task for the department (主办 or 协办).")
register(
    types.TASK_UPDATED,
    TaskUpdated,
    topics=DEPT_TASKS,
    description="The task changed: deadline set or moved, warning, 催办/督办, mode changed, merged, split.",
)
register(types.TASK_WITHDRAWN, TaskWithdrawn, topics=DEPT_TASKS, description="The task was taken back.")

register(
    types.DEPT_ACCEPTED,
    DeptUpdate,
    topics=UPDATE_TOPICS,
    direction="accepted",
    description="The department took the task.",
)
register(
    types.DEPT_REJECTED,
    DeptRejected,
    topics=UPDATE_TOPICS,
    direction="accepted",
    description="退单: the department refuses the task; reason required, suggested owner too outside an emergency.",
)
register(types.DEPT_PROGRESS, DeptUpdate, topics=UPDATE_TOPICS, direction="accepted", description="A progress note.")
register(
    types.DEPT_RESOLVED,
    DeptUpdate,
    topics=UPDATE_TOPICS,
    direction="accepted",
    description="The department resolved it.",
)
register(
    types.DEPT_EXTENSION_REQUESTED,
    DeptExtensionRequested,
    topics=UPDATE_TOPICS,
    direction="accepted",
    description="延期: the department asks for a later deadline (requested_deadline required).",
)
register(
    types.DEPT_FORWARDED,
    DeptForwarded,
    topics=UPDATE_TOPICS,
    direction="accepted",
    description="五级应用: a street's platform hands its task to one of its communities or grid teams (unit required).",
)
