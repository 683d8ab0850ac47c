"""A throw-away single-node SLURM cluster on localhost, for tests.

    with slurm_cluster(cpus=8, gpus=2) as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env)

Everything lives in one temporary directory: munged, MariaDB, slurmdbd (so that `sacct`
works, as on a real cluster), slurmctld and slurmd, each on a free port of 127.0.0.1 or a
socket in that directory, each started here in the foreground and stopped here by its own
process id. Clients reach this cluster, and no other, through `cluster.env` (SLURM_CONF).

Debian's packages are installed with apt-get when a program is missing; that needs root.
Where the cluster cannot be had (not root, no apt-get, a package that will not install, a
daemon that will not start) `SlurmUnavailableError` says why; tests skip with that reason,
or fail with it where AFFECTREP_REQUIRE_SLURM=1.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge", "slurmdbd", "mariadb-server"]
CLIENTS = [
    "srun",
    "sbatch",
    "squeue",
    "sinfo",
    "sacct",
    "sacctmgr",
    "scancel",
    "scontrol",
    "sshare",
    "sstat",
    "salloc",
]
PROGRAMS = [
    "munged",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    *CLIENTS,
]
ACCOUNT = "affectrep"  # the account jobs may name (besides root's own)
PARTITION = "debug"  # the one partition, the default
MARKER = "AFFECTREP_TEST_SLURM_CLUSTER"  # in every daemon's environment: whose process


class SlurmUnavailableError(RuntimeError):
    """SLURM cannot be installed or started here; the message says why."""


def _which(program: str) -> str | None:
    return shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if _which(program) is None]


def ensure_installed(timeout: float = 900) -> None:
    """Install the packages with apt-get where a program is missing (root only)."""
    missing = missing_programs()
    if not missing:
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise SlurmUnavailableError(
            f"SLURM programs missing ({', '.join(missing)}) and not root, so cannot "
            f"apt-get install {' '.join(PACKAGES)}"
        )
    apt = _which("apt-get")
    if apt is None:
        raise SlurmUnavailableError(f"SLURM programs missing ({', '.join(missing)}) and no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Keep the packages' maintainer scripts from starting system-wide daemons (munge,
    # MariaDB on port 3306, slurmd): a policy-rc.d that says no, where none is in place.
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# tests/slurm_cluster.py, during apt-get\nexit 101\n")
        policy.chmod(0o755)
    deadline = time.monotonic() + timeout
    try:
        install = [apt, "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
        process = _run_apt(install, env, deadline)
        if process.returncode != 0:  # a fresh machine: no package lists yet, or old ones
            _run_apt([apt, "update", "-q"], env, deadline)
            process = _run_apt(install, env, deadline)
        if process.returncode != 0:
            raise SlurmUnavailableError(
                f"apt-get install {' '.join(PACKAGES)} failed ({process.returncode}): "
                + process.stdout[-2000:]
            )
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    missing = missing_programs()
    if missing:
        raise SlurmUnavailableError(f"still missing after apt-get install: {', '.join(missing)}")


def _run_apt(command: list[str], env: dict, deadline: float) -> subprocess.CompletedProcess:
    left = deadline - time.monotonic()
    if left <= 0:
        raise SlurmUnavailableError(f"apt-get ran out of time before: {' '.join(command)}")
    try:
        return subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=left,
        )
    except subprocess.TimeoutExpired as error:
        raise SlurmUnavailableError(f"timed out: {' '.join(command)}") from error


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _hardware() -> dict[str, int]:
    """What slurmd sees: CPUs, sockets, cores, threads and memory in MB."""
    out = subprocess.run(
        [_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30
    ).stdout
    found = dict(re.findall(r"(\w+)=(\d+)", out.splitlines()[0] if out else ""))
    if "CPUs" not in found or "RealMemory" not in found:
        raise SlurmUnavailableError(f"slurmd -C gave no CPUs and RealMemory: {out!r}")
    return {key: int(value) for key, value in found.items()}


class SlurmCluster:
    """One node (this machine) in one partition, with accounting; see `slurm_cluster`.

    cpus: CPUs the node offers (default: the machine's). memory_mb: its memory in MB
    (default: the machine's, less 512). More than the machine has lets jobs ask for more
    than there is (slurmd accepts it through SlurmdParameters=config_overrides; nothing
    confines a job here). gpus: GPUs offered as GRES without devices (so `--gpus=1`
    schedules; no job sees a real GPU).
    """

    def __init__(
        self, root: Path, cpus: int | None = None, gpus: int = 0, memory_mb: int | None = None
    ):
        self.root = Path(root)
        self.cpus = cpus
        self.gpus = gpus
        self.memory_mb = memory_mb
        self.node = socket.gethostname().split(".")[0]
        self.cluster_name = "t" + uuid.uuid4().hex[:10]
        self.etc = self.root / "etc"
        self.log = self.root / "log"
        self.conf = self.etc / "slurm.conf"
        self.munge_socket = self.root / "munge.sock"
        self.processes: dict[str, subprocess.Popen] = {}
        # Client programs that find this cluster even where SLURM_CONF is dropped: the
        # plugin's jobstep (0.6) runs `srun` inside each job without SLURM_* variables,
        # which on a real cluster finds /etc/slurm/slurm.conf.
        self.bin = self.root / "bin"
        self.env = {
            **os.environ,
            "SLURM_CONF": str(self.conf),
            MARKER: str(self.root),
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        for name in [
            n
            for n in self.env
            if n.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "SQUEUE_", "SACCT_"))
        ]:
            if name != "SLURM_CONF":
                del self.env[name]

    # ----------------------------------------------------------------------------- start
    def start(self, timeout: float = 180) -> SlurmCluster:
        deadline = time.monotonic() + timeout
        for folder in ("etc", "log", "run", "state", "spool", "db", "tmp", "bin"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        ctld_port, slurmd_port, dbd_port, db_port = _free_ports(4)
        self._write_config(ctld_port, slurmd_port, dbd_port, db_port)
        self._start_munge(deadline)
        self._start_mariadb(db_port, deadline)
        self._spawn("slurmdbd", [_which("slurmdbd"), "-D"])
        self._until(
            deadline,
            "slurmdbd answering sacctmgr",
            lambda: self.run("sacctmgr", "-n", "list", "cluster", timeout=20).returncode == 0,
            process="slurmdbd",
        )
        for command in (
            ["add", "cluster", self.cluster_name],
            [
                "add",
                "account",
                ACCOUNT,
                "Description=tests",
                "Organization=tests",
                f"Cluster={self.cluster_name}",
            ],
            ["add", "user", "root", f"Account={ACCOUNT}", f"Cluster={self.cluster_name}"],
        ):
            self._check(self.run("sacctmgr", "-i", *command, timeout=30), "sacctmgr")
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i"])
        self._until(
            deadline,
            "slurmctld answering sinfo",
            lambda: self.run("sinfo", "-h", timeout=20).returncode == 0,
            process="slurmctld",
        )
        self._spawn("slurmd", [_which("slurmd"), "-D", "-N", self.node])
        self._until(deadline, f"node {self.node} idle", self._node_idle, process="slurmd")
        return self

    def _write_config(self, ctld_port: int, slurmd_port: int, dbd_port: int, db_port: int) -> None:
        hardware = _hardware()
        cpus = self.cpus or hardware["CPUs"]
        memory = self.memory_mb or max(hardware["RealMemory"] - 512, 1024)
        root, log, run = self.root, self.log, self.root / "run"
        self.db_port = db_port
        self.db_password = uuid.uuid4().hex
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        self.conf.write_text(f"""# written by tests/slurm_cluster.py
ClusterName={self.cluster_name}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
{auth}CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={run}/slurmctld.pid
SlurmdPidFile={run}/slurmd.pid
SlurmctldLogFile={log}/slurmctld.log
SlurmdLogFile={log}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={self.etc}/plugstack.conf
TmpFS={root}/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={dbd_port}
AccountingStoragePass={self.munge_socket}
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} Boards=1 SocketsPerBoard=1 \
CoresPerSocket={cpus} ThreadsPerCore=1 RealMemory={memory}{gres} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        (self.etc / "plugstack.conf").write_text("")
        self.bin.mkdir(exist_ok=True)
        for program in CLIENTS:
            wrapper = self.bin / program
            wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {_which(program)} "$@"\n')
            wrapper.chmod(0o755)
        # GPUs without hardware: empty files stand in for /dev/nvidia0, ... (no job step is
        # confined to devices here, so none is opened; slurmd logs that they are no devices).
        devices = [self.root / "dev" / f"gpu{i}" for i in range(self.gpus)]
        for device in devices:
            device.parent.mkdir(exist_ok=True)
            device.touch()
        (self.etc / "gres.conf").write_text(
            "AutoDetect=off\n"
            + "".join(f"NodeName={self.node} Name=gpu File={device}\n" for device in devices)
        )
        dbd = self.etc / "slurmdbd.conf"
        dbd.write_text(f"""# written by tests/slurm_cluster.py
{auth}DbdHost=localhost
DbdPort={dbd_port}
SlurmUser=root
LogFile={log}/slurmdbd.log
PidFile={run}/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={self.db_password}
StorageLoc=slurm_acct_db
""")
        dbd.chmod(0o600)  # slurmdbd refuses a readable one

    def _start_munge(self, deadline: float) -> None:
        key = self.etc / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={self.root}/run/munged.pid",
                f"--log-file={self.log}/munged.log",
                f"--seed-file={self.root}/run/munged.seed",
            ],
        )
        self._until(deadline, "munged socket", self.munge_socket.exists, process="munged")

    def _start_mariadb(self, port: int, deadline: float) -> None:
        data, sock = self.root / "db", self.root / "mysql.sock"
        process = subprocess.run(
            [
                _which("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 1),
        )
        self._check(process, "mariadb-install-db")
        self._spawn(
            "mariadbd",
            [
                _which("mariadbd"),
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={sock}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                f"--pid-file={self.root}/run/mariadbd.pid",
                f"--log-error={self.log}/mariadb.log",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
                "--innodb-lock-wait-timeout=900",
                "--max-connections=50",
                "--performance-schema=0",
            ],
        )
        client = [_which("mariadb"), "--no-defaults", f"--socket={sock}", "-uroot"]
        self._until(
            deadline,
            "mariadbd answering",
            lambda: (
                subprocess.run(
                    [*client, "-e", "SELECT 1"], capture_output=True, timeout=20
                ).returncode
                == 0
            ),
            process="mariadbd",
        )
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_password}';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        self._check(
            subprocess.run([*client, "-e", sql], capture_output=True, text=True, timeout=30),
            "mariadb",
        )

    def _spawn(self, name: str, command: list[str]) -> None:
        stdout = open(self.log / f"{name}.out", "w")  # noqa: SIM115 - closed with the file
        try:
            self.processes[name] = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )
        finally:
            stdout.close()

    def _until(self, deadline: float, what: str, ready, process: str | None = None) -> None:
        while True:
            if process and self.processes[process].poll() is not None:
                raise SlurmUnavailableError(
                    f"{process} exited ({self.processes[process].returncode}) before "
                    f"{what}\n{self.logs()}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                if ready():
                    return
            if time.monotonic() > deadline:
                raise SlurmUnavailableError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.5)

    def _check(self, process: subprocess.CompletedProcess, what: str) -> None:
        if process.returncode != 0:
            raise SlurmUnavailableError(
                f"{what} failed ({process.returncode}): {process.stdout}{process.stderr}"
                f"\n{self.logs()}"
            )

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", timeout=20).stdout.split()
        if any(state.rstrip("*~#") in ("drained", "draining", "down", "fail") for state in out):
            reason = self.run("scontrol", "show", "node", self.node, timeout=20).stdout
            raise SlurmUnavailableError(f"node {self.node} is {out}:\n{reason}\n{self.logs()}")
        return out == ["idle"]

    # ------------------------------------------------------------------------------- use
    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """A SLURM client command (sinfo, sbatch, sacct, ...) against this cluster."""
        program = _which(command[0]) or command[0]
        return subprocess.run(
            [program, *command[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def sacct(self, fields: list[str]) -> list[dict[str, str]]:
        """Every job this cluster ran, one dict per job (no job steps)."""
        process = self.run(
            "sacct",
            "-a",
            "-X",
            "-n",
            "-P",
            "-S",
            "2000-01-01",
            "-E",
            "now",
            "--delimiter=\t",
            "-o",
            ",".join(fields),
            timeout=60,
        )
        self._check(process, "sacct")
        return [
            dict(zip(fields, line.split("\t"), strict=False))
            for line in process.stdout.splitlines()
            if line.strip()
        ]

    def logs(self, lines: int = 60) -> str:
        """The end of every daemon's log, for a failing test to print."""
        parts = []
        for path in sorted(self.log.glob("*")) if self.log.exists() else []:
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"==== {path.name} (last {len(tail)} lines) ====\n" + "\n".join(tail))
        return "\n".join(parts)

    # ------------------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Cancel every job, stop the daemons started here, then their leftovers."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.run("scancel", "--full", "--user=root", timeout=20)
                deadline = time.monotonic() + 30
                while (
                    time.monotonic() < deadline
                    and self.run("squeue", "-h", "-o", "%i", timeout=20).stdout.strip()
                ):
                    time.sleep(1)
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        # Job steps (slurmstepd and what it ran) leave slurmd's process tree; they carry
        # this cluster's marker in their environment, and nothing else does.
        for signum in (signal.SIGTERM, signal.SIGKILL):
            leftovers = self._marked_processes()
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signum)
            if leftovers:
                time.sleep(2)

    def _marked_processes(self) -> list[int]:
        marker = f"{MARKER}={self.root}".encode()
        own = {os.getpid(), os.getppid()}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in own:
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
        return found


@contextlib.contextmanager
def slurm_cluster(
    cpus: int | None = None,
    gpus: int = 0,
    memory_mb: int | None = None,
    timeout: float = 180,
    keep: bool = False,
) -> Iterator[SlurmCluster]:
    """Install (if needed), start, yield and then stop and remove a one-node cluster.

    Raises SlurmUnavailableError, before yielding, where that cannot be done.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise SlurmUnavailableError("not root: the test cluster's daemons run as root")
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="slurm-"))  # short: munge's socket path has a limit
    cluster = SlurmCluster(root, cpus=cpus, gpus=gpus, memory_mb=memory_mb)
    try:
        cluster.start(timeout=timeout)
        yield cluster
    finally:
        cluster.stop()
        if not keep and not os.environ.get("AFFECTREP_KEEP_SLURM"):
            shutil.rmtree(root, ignore_errors=True)
