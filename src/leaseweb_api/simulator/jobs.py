"""Jobs on a clock: each task takes `step` seconds; the job's shape is computed from the time it is read at.

Nothing runs in the background: a job is its start time, its task list and how it ends (finishes, fails at a
task, or is canceled/expired at a moment), so reading it at any time gives the statuses LeaseWeb would show
then. A job handed to an automation (the simulator's hook, which installs the lab's twin) cannot end before
the automation reports: its last task stays in progress until then, and a failed automation fails the job.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from leaseweb_api.simulator.records import iso

# (task type, description) per job type; loosely the steps LeaseWeb's automation shows for each.
TASKS: dict[str, tuple[tuple[str, str], ...]] = {
    "install": (
        ("prepare", "Validate the installation request"),
        ("powerCycle", "Power cycle the server into the installer"),
        ("partition", "Partition and format the disks"),
        ("install", "Install the operating system"),
        ("configure", "Configure network, hostname and SSH keys"),
        ("reboot", "Reboot into the installed operating system"),
    ),
    "rescueMode": (
        ("prepare", "Prepare the rescue image"),
        ("powerCycle", "Power cycle the server into rescue mode"),
        ("boot", "Boot the rescue image"),
        ("ready", "Wait for the rescue system to come up"),
    ),
    "ipmiReset": (
        ("prepare", "Validate the IPMI reset request"),
        ("ipmiReset", "Reset the IPMI interface to LeaseWeb's settings"),
        ("powerCycle", "Power cycle the server to complete the reset"),
    ),
    "hardwareScan": (
        ("powerCycle", "Power cycle the server into the hardware scanner"),
        ("scan", "Scan the hardware"),
        ("report", "Store the hardware report"),
    ),
}
FAILURE_MESSAGES = {
    "install": "The installer exited with status 1 while installing packages",
    "rescueMode": "The server did not fetch the rescue image within the timeout",
    "ipmiReset": "The IPMI interface did not answer after the reset",
    "hardwareScan": "The hardware scanner did not report back within the timeout",
}
TERMINAL = ("FINISHED", "FAILED", "CANCELED", "EXPIRED")
# The task an automation's failure is reported in, per job type.
AUTOMATED_TASK = {"install": "install"}


@dataclass
class Job:
    uuid: str
    type: str
    server_id: str
    node: str | None
    created: float
    step: float
    payload: dict[str, Any]
    fail_at: int | None = None
    stopped: str | None = None  # CANCELED or EXPIRED, by the API
    stopped_at: float | None = None
    tasks: list[dict[str, str]] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    # What an automation (the hook) was handed, secrets included; the job ends when it reports.
    automation: dict[str, Any] | None = None
    automation_done_at: float | None = None

    @property
    def automated(self) -> bool:
        return self.automation is not None

    @classmethod
    def start(
        cls,
        job_type: str,
        server_id: str,
        node: str | None,
        now: float,
        step: float,
        payload: dict[str, Any],
        fail: bool,
    ) -> Job:
        tasks = [{"type": kind, "description": text} for kind, text in TASKS[job_type]]
        return cls(
            uuid=str(uuid.uuid4()),
            type=job_type,
            server_id=server_id,
            node=node,
            created=now,
            step=step,
            payload=payload,
            # A failing job fails in its middle task, after the server has been touched.
            fail_at=len(tasks) // 2 if fail else None,
            tasks=tasks,
            task_ids=[str(uuid.uuid4()) for _ in tasks],
        )

    @classmethod
    def from_seed(cls, data: dict[str, Any]) -> Job:
        return cls(**data)

    def to_seed(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def _end(self) -> tuple[float, str]:
        """When the job stops and with which status: its last task, its failing task, or a cancel/expire."""
        if self.fail_at is not None:
            end, how = self.created + (self.fail_at + 1) * self.step, "FAILED"
        else:
            end, how = self.created + len(self.tasks) * self.step, "FINISHED"
        if self.automated:
            end = max(end, math.inf if self.automation_done_at is None else self.automation_done_at)
        if self.stopped and self.stopped_at is not None and self.stopped_at < end:
            return self.stopped_at, self.stopped
        return end, how

    def _final_task(self) -> int:
        return self.fail_at if self.fail_at is not None else len(self.tasks) - 1

    def _task_status(self, index: int, now: float) -> tuple[str, float]:
        """The status of task `index` at `now`, and when it entered that status."""
        start = self.created + index * self.step
        finish = start + self.step
        end, how = self._end()
        if index == self._final_task():
            # The final task lasts until the job ends (later than the clock when an automation is slow).
            finish = max(finish, end)
        if now < end:
            if now >= finish:
                return "FINISHED", finish
            return ("INPROGRESS", start) if now >= start else ("WAITING", self.created)
        if how == "FAILED":
            assert self.fail_at is not None
            if index == self.fail_at:
                return "FAILED", end
            return ("FINISHED", finish) if index < self.fail_at else ("SKIPPED", end)
        if finish <= end:
            return "FINISHED", finish
        return (how, end) if start <= end else ("SKIPPED", end)

    def status(self, now: float) -> str:
        end, how = self._end()
        return how if now >= end else "ACTIVE"

    def is_running(self, now: float) -> bool:
        return self.status(now) == "ACTIVE"

    def _render_task(self, index: int, now: float) -> dict[str, Any]:
        status, since = self._task_status(index, now)
        start = self.created + index * self.step
        stamps = {"WAITING": iso(self.created)}
        if status != "WAITING" and since >= start:
            stamps.update({"PENDING": iso(start), "INPROGRESS": iso(start)})
        if status not in ("WAITING", "INPROGRESS"):
            stamps[status] = iso(since)
        return {
            "uuid": self.task_ids[index],
            "status": status,
            "description": self.tasks[index]["description"],
            "onError": "break",
            "errorMessage": FAILURE_MESSAGES[self.type] if status == "FAILED" else None,
            "flow": "main",
            "statusTimestamps": stamps,
            "type": self.tasks[index]["type"],
            "actor": "server",
            "createdAt": iso(self.created),
            "updatedAt": iso(since),
            "timeout": 32400,
        }

    def render(self, now: float) -> dict[str, Any]:
        """The job as `GET /jobs/{id}` shows it (`currentTask` unwrapped, as the live API sends it)."""
        tasks = [self._render_task(i, now) for i in range(len(self.tasks))]
        status = self.status(now)
        counts = {name: 0 for name in ("waiting", "pending", "inprogress", "finished", "failed")}
        counts.update({name: 0 for name in ("expired", "canceled", "warning", "skipped")})
        for task in tasks:
            counts[task["status"].lower()] += 1
        done = len(tasks) - counts["waiting"] - counts["pending"] - counts["inprogress"]
        current = next((t for t in tasks if t["status"] not in ("FINISHED", "SKIPPED", "WAITING")), None)
        if current is None and status == "ACTIVE":
            current = next((t for t in tasks if t["status"] == "WAITING"), None)
        updated = max(t["updatedAt"] for t in tasks)
        return {
            "uuid": self.uuid,
            "type": self.type,
            "status": status,
            "serverId": self.server_id,
            "bareMetalId": self.server_id,
            "node": self.node or "",
            "createdAt": iso(self.created),
            "updatedAt": updated,
            "flow": "main" if status == "ACTIVE" else "#stop",
            "isRunning": status == "ACTIVE",
            "currentTask": None if status == "FINISHED" else current,
            "progress": {
                "total": len(tasks),
                **counts,
                "percentage": 100 if status in TERMINAL else int(100 * done / len(tasks)),
            },
            "metadata": {"BATCH_ID": None},
            "payload": self.payload,
            "tasks": tasks,
        }

    def stop(self, how: str, now: float) -> None:
        self.stopped, self.stopped_at = how, now

    def finished_at(self, now: float) -> float | None:
        """When the job finished, if it has by `now`."""
        end, how = self._end()
        return end if how == "FINISHED" and now >= end else None

    def retry(self, now: float) -> None:
        """Run the job again from its first task (LeaseWeb documents no partial retry)."""
        self.created, self.fail_at, self.stopped, self.stopped_at = now, None, None, None
        self.automation_done_at = None

    def automation_done(self, ok: bool, now: float) -> None:
        """The automation reported: the job ends (failed in its automated task if not ok)."""
        if not self.automated or self.automation_done_at is not None or self.stopped:
            return
        self.automation_done_at = now
        if not ok:
            kinds = [task["type"] for task in self.tasks]
            self.fail_at = kinds.index(AUTOMATED_TASK[self.type])
