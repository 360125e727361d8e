#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: start LeaseWeb install/rescue jobs and wait for jobs to finish."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_job
short_description: Start, retry, cancel or wait for LeaseWeb jobs (install, rescue, IPMI reset, hardware scan)
description:
  - With O(type), starts an C(install) job (LeaseWeb's own OS installation), a C(rescueMode) job (boot a
    rescue image), an C(ipmiReset) job (reset the IPMI interface to LeaseWeb's settings) or a C(hardwareScan)
    job (boot a scanner that records the hardware; read the report with M(cdn.infra.leaseweb_hardware_info)).
  - Idempotent unless O(force). No job is started when the server's most recent job of that type asked for
    the same thing (same O(operating_system_id) and, when given, O(hostname); or the same O(rescue_image_id))
    and did not fail, was not canceled and did not expire. That job is returned (and waited for) instead.
    This keeps a re-run play from reinstalling a server. For C(ipmiReset) and C(hardwareScan) any such job
    of the type counts (use O(force) to scan again).
  - With O(action), retries the job O(job_id) when it failed, was canceled or expired (LeaseWeb runs it
    again), or cancels or expires the server's running job; nothing happens (no change) when there is
    nothing to do.
  - With O(job_id), works on that job instead.
  - With O(wait), waits until the job is C(FINISHED), and fails with the failed task's description and error
    message when it ends C(FAILED), C(CANCELED) or C(EXPIRED), or after O(wait_timeout) seconds.
version_added: "0.1.0"
author: cdn-infra team (@cdn-infra)
options:
  type:
    description:
      - The job to start. One of O(type) and O(job_id) is required.
    type: str
    choices: [install, rescueMode, ipmiReset, hardwareScan]
  job_id:
    description:
      - The uuid of an existing job to report on, wait for or retry.
    type: str
  action:
    description:
      - V(retry) runs the job O(job_id) again if it ended C(FAILED), C(CANCELED) or C(EXPIRED).
      - V(cancel) cancels the server's running job (its onfail flow runs, often a reboot); V(expire) marks
        it expired without touching the server. With O(job_id), only if that is the running job.
    type: str
    choices: [retry, cancel, expire]
  force:
    description:
      - Start a job even if the latest one of the same type asked for the same thing.
    type: bool
    default: false
  operating_system_id:
    description:
      - With O(type=install), the operating system to install (an id from C(/operatingSystems), such as
        C(DEBIAN_12_64BIT)).
    type: str
  rescue_image_id:
    description:
      - With O(type=rescueMode), the rescue image to boot (an id from C(/rescueImages)).
    type: str
    default: GRML
  hostname:
    description:
      - With O(type=install), the hostname to configure.
    type: str
  ssh_keys:
    description:
      - Public SSH keys to install, one per line.
      - Public keys are not secrets, so they are logged like any other option (C(no_log) is false on
        purpose, so that a play's output shows which keys a server was given).
    type: str
  password:
    description:
      - Root (or rescue) password; LeaseWeb generates one when not given.
    type: str
  post_install_script:
    description:
      - Script run after the installation or once rescue mode is up, base64-encoded, starting with a shebang.
    type: str
  callback_url:
    description:
      - URL LeaseWeb calls when the job finishes or fails.
    type: str
  power_cycle:
    description:
      - Let the job power-cycle the server itself (LeaseWeb's default).
      - With O(type=ipmiReset) or O(type=hardwareScan), V(false) leaves the power cycle to you.
    type: bool
  partitions:
    description:
      - With O(type=install), the partitions to make, in order.
    type: list
    elements: dict
    suboptions:
      filesystem:
        description: File system, for example C(ext4), C(xfs) or C(swap).
        type: str
        required: true
      size:
        description: Size in MB (LeaseWeb's unit; OS-specific), or C(*) for the rest of the disk.
        type: str
        required: true
      mountpoint:
        description: Where it is mounted (C(/) is required among the partitions); none for swap.
        type: str
  raid:
    description:
      - With O(type=install), the RAID set-up.
    type: dict
    suboptions:
      type:
        description: Hardware or software RAID, or V(NONE) (pass-through on a hardware RAID controller).
        type: str
        choices: [HW, SW, NONE]
        required: true
      level:
        description: RAID level; required with V(HW) and V(SW).
        type: int
        choices: [0, 1, 5, 10]
      number_of_disks:
        description: How many disks the RAID spans; all of them when not given.
        type: int
        aliases: [numberOfDisks]
  device:
    description:
      - With O(type=install), the disk set to install on (for example C(SATA2TB), C(NVME)).
    type: str
  timezone:
    description:
      - With O(type=install), time zone as Area/City.
    type: str
  control_panel_id:
    description:
      - With O(type=install), a control panel to install.
    type: str
  wait:
    description:
      - Wait until the job has finished (a job started, retried or named by O(job_id); not with
        O(action=cancel) or O(action=expire)).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait) before failing.
    type: float
    default: 3600
  poll_interval:
    description:
      - Seconds between two reads of the job with O(wait).
    type: float
    default: 10
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.leaseweb
  - cdn.infra.leaseweb.action_group
  - cdn.infra.leaseweb.server
attributes:
  check_mode:
    support: full
    details: A job that would be started is reported as a change; nothing is waited for.
  diff_mode:
    description: Not supported; a job's progress is its result, it has no before and after.
    support: none
"""

EXAMPLES = r"""
- name: Install Debian 12 with LeaseWeb's installer and wait for it
  leaseweb_job:
    server_id: "{{ leaseweb_id }}"
    type: install
    operating_system_id: DEBIAN_12_64BIT
    hostname: "{{ inventory_hostname }}"
    ssh_keys: "{{ lookup('ansible.builtin.file', 'files/admin.pub') }}"
    wait: true
    wait_timeout: 5400
    poll_interval: 30
  delegate_to: localhost

- name: Boot the rescue image
  leaseweb_job:
    server_id: "{{ leaseweb_id }}"
    type: rescueMode
    rescue_image_id: GRML
  delegate_to: localhost
  register: __rescue

- name: Wait for a job started elsewhere
  leaseweb_job:
    server_id: "{{ leaseweb_id }}"
    job_id: "{{ __rescue.job.uuid }}"
    wait: true
  delegate_to: localhost
"""

RETURN = r"""
job:
  description: The job (started, found or waited for); null in check mode when one would be started.
  returned: always
  type: dict
  contains:
    uuid:
      description: Job id.
      type: str
    type:
      description: C(install), C(rescueMode), ...
      type: str
    status:
      description: C(ACTIVE), C(FINISHED), C(FAILED), C(CANCELED) or C(EXPIRED).
      type: str
    is_running:
      description: Whether the job is still running.
      type: bool
    progress:
      description: Task counts per status, and C(percentage).
      type: dict
    current_task:
      description: The task running (or the one that stopped the job), or null.
      type: dict
    tasks:
      description: Every task with its C(description), C(status) and C(error_message).
      type: list
      elements: dict
    payload:
      description: What the job was asked to do (operating system, hostname, ...; never passwords).
      type: dict
failed_task:
  description: The task that failed, was canceled or expired, when the job did not finish.
  returned: on failure of a waited-for job
  type: dict
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
    wait_for,
)

COMMON_OPTIONS = ("ssh_keys", "password", "post_install_script", "callback_url", "power_cycle")
JOB_OPTIONS = {
    "install": (*COMMON_OPTIONS, "hostname", "partitions", "raid", "device", "timezone", "control_panel_id"),
    "rescueMode": COMMON_OPTIONS,
    "ipmiReset": ("callback_url", "power_cycle"),
    "hardwareScan": ("callback_url", "power_cycle"),
}
RETRYABLE = ("FAILED", "CANCELED", "EXPIRED")


def _same_request(job, params) -> bool:
    """Whether an earlier job asked for what these parameters ask for."""
    if job is None or job.has_failed:
        return False
    if params["type"] == "install":
        return job.payload.get("operatingSystemId") == params["operating_system_id"] and (
            params["hostname"] is None or job.payload.get("hostname") == params["hostname"]
        )
    if params["type"] == "rescueMode":
        return job.payload.get("rescueImageId") == params["rescue_image_id"]
    return True


def _raid(raid):
    """The API's raid object from the module's snake_case suboptions."""
    names = {"type": "type", "level": "level", "number_of_disks": "numberOfDisks"}
    return {api: raid[key] for key, api in names.items() if raid.get(key) is not None}


def _start(client, params):
    options = {name: params[name] for name in JOB_OPTIONS[params["type"]]}
    server_id, job_type = params["server_id"], params["type"]
    if job_type == "install":
        if options["raid"]:
            options["raid"] = _raid(options["raid"])
        if options["partitions"]:
            options["partitions"] = [
                {k: v for k, v in p.items() if v is not None} for p in options["partitions"]
            ]
        return client.install(server_id, params["operating_system_id"], **options)
    if job_type == "rescueMode":
        return client.rescue_mode(server_id, params["rescue_image_id"], **options)
    start = client.ipmi_reset if job_type == "ipmiReset" else client.hardware_scan
    return start(server_id, **options)


def _act(module, client):
    """O(action): the job after it, and whether it changed anything."""
    params, check = module.params, module.check_mode
    server_id, job_id = params["server_id"], params["job_id"]
    if params["action"] == "retry":
        job = client.get_job(server_id, job_id)
        if (job.status or "").upper() not in RETRYABLE:
            return job, False
        return (job if check else client.retry_job(server_id, job_id)), True
    running = client.list_jobs(server_id, is_running=True)
    job = running[0] if running else None
    if job is None or (job_id and job.uuid != job_id):
        return (client.get_job(server_id, job_id) if job_id else None), False
    if check:
        return job, True
    stop = client.cancel_active_job if params["action"] == "cancel" else client.expire_active_job
    return stop(server_id), True


def _check_raid(module) -> None:
    raid = module.params["raid"]
    if raid and raid["type"] in ("HW", "SW") and raid["level"] is None:
        module.fail_json(msg=f"raid: a level is required with type {raid['type']}")
    partitions = module.params["partitions"]
    if partitions and not any(p["mountpoint"] == "/" for p in partitions):
        module.fail_json(msg="partitions: one of them must be mounted at /")


def _fail_for(module, job, message: str, changed: bool) -> None:
    task = job.failed_task() or job.current_task
    detail = (
        f": task '{task.description}' {task.status}"
        + (f": {task.error_message}" if task.error_message else "")
        if task
        else ""
    )
    module.fail_json(
        msg=f"{message}{detail}",
        changed=changed,
        job=job.to_dict(),
        failed_task=task.to_dict() if task else None,
    )


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "type": {"type": "str", "choices": list(JOB_OPTIONS)},
            "job_id": {"type": "str"},
            "action": {"type": "str", "choices": ["retry", "cancel", "expire"]},
            "force": {"type": "bool", "default": False},
            "operating_system_id": {"type": "str"},
            "rescue_image_id": {"type": "str", "default": "GRML"},
            "hostname": {"type": "str"},
            "ssh_keys": {"type": "str", "no_log": False},  # public keys: shown on purpose
            "password": {"type": "str", "no_log": True},
            "post_install_script": {"type": "str", "no_log": True},
            "callback_url": {"type": "str"},
            "power_cycle": {"type": "bool"},
            "partitions": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "filesystem": {"type": "str", "required": True},
                    "size": {"type": "str", "required": True},
                    "mountpoint": {"type": "str"},
                },
            },
            "raid": {
                "type": "dict",
                "options": {
                    "type": {"type": "str", "choices": ["HW", "SW", "NONE"], "required": True},
                    "level": {"type": "int", "choices": [0, 1, 5, 10]},
                    "number_of_disks": {"type": "int", "aliases": ["numberOfDisks"]},
                },
            },
            "device": {"type": "str"},
            "timezone": {"type": "str"},
            "control_panel_id": {"type": "str"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "float", "default": 3600.0},
            "poll_interval": {"type": "float", "default": 10.0},
        },
        mutually_exclusive=[("type", "job_id"), ("type", "action")],
        required_one_of=[("type", "job_id", "action")],
        required_if=[("type", "install", ("operating_system_id",)), ("action", "retry", ("job_id",))],
        supports_check_mode=True,
    )
    params = module.params
    server_id = params["server_id"]
    _check_raid(module)
    client = leaseweb_client(module)
    changed = False
    with api_errors(module, changed=False):
        if params["action"]:
            job, changed = _act(module, client)
        elif params["job_id"]:
            job = client.get_job(server_id, params["job_id"])
        else:
            latest = client.latest_job(server_id, params["type"])
            changed = params["force"] or not _same_request(latest, params)
            job = latest if not changed else None
            if changed and not module.check_mode:
                job = _start(client, params)
    # Waiting is for a job that runs: one started, retried or named; not for one just canceled or expired.
    if job is None or module.check_mode or not params["wait"] or params["action"] in ("cancel", "expire"):
        module.exit_json(changed=changed, job=job.to_dict() if job else None)
    with api_errors(module, changed=changed, job=job.to_dict()):
        job, done = wait_for(
            lambda: client.get_job(server_id, job.uuid),
            lambda current: current.is_terminal,
            params["wait_timeout"],
            params["poll_interval"],
        )
    if not done:
        _fail_for(
            module,
            job,
            f"timed out after {params['wait_timeout']} s waiting for {job.type} job {job.uuid}: {job.status}",
            changed,
        )
    if not job.is_finished:
        _fail_for(
            module, job, f"job {job.uuid} ({job.type}) on server {server_id} ended {job.status}", changed
        )
    module.exit_json(changed=changed, job=job.to_dict())


if __name__ == "__main__":
    main()
