"""The workflow on a real SLURM cluster: profiles/slurm, end to end.

A one-node cluster on localhost (tests/slurm_cluster.py: munged, MariaDB, slurmdbd,
slurmctld, slurmd; two stand-in GPUs) runs a tiny demo through `--profile profiles/slurm`
with snakemake-executor-plugin-slurm. Every job must have gone through sbatch (sacct lists
it, with the partition, account and GPUs the profile asked for) and the results must equal
those of a run on this machine without SLURM (`--profile profiles/local`).

Root only (the fixture apt-get installs SLURM where it is missing); elsewhere, or where the
cluster cannot be started, the cluster tests are skipped with the reason, and fail instead
with AFFECTREP_REQUIRE_SLURM=1. AFFECTREP_KEEP_SLURM=1 keeps the cluster's directory.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from slurm_cluster import ACCOUNT, PARTITION, SlurmUnavailableError, slurm_cluster

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"
TARGET = "results/demo/tables/table1.md"
MODEL = "deep-logmel40-c1"
GPU_RULES = {
    "pretrain_layer",
    "finetune_deep",
    "train_deep",
    "encode",
    "blstm_ae",
    "fold_mlp",
    "mlp_runs",
    "encode_from",
    "masked_pretrain",
    "masked_embed",
}
# CPUs a job asks for: the training rules 4 (the profile), the demo synthesis its 8 threads.
CPUS = {**dict.fromkeys(GPU_RULES, "4"), "demo_corpus": "8"}
# Seconds for the whole SLURM run (2.5 minutes on 2 busy cores).
SLURM_TIMEOUT = float(os.environ.get("AFFECTREP_SLURM_TIMEOUT", 600))
LOCAL_TIMEOUT = 300

# 8 jobs, 7 one after the other: demo corpus, manifest, log-mel spectrogram, a deep
# autoencoder (train, encode), its validation and the log-mel baseline's, Table 1.
CONFIG = {
    "run": ["demo"],
    "corpora": {
        "demo": {
            "reader": "iemocap",
            "demo": {"seed": 3, "sessions": 2, "utterances_per_speaker": 8},
        }
    },
    "autoencoders": {
        "models": [MODEL],
        "hidden": {"logmel40-c1": [20, 10]},
        "epochs": 2,
        "batch_size": 100,
        "learning_rate": 1.0e-3,
        "momentum": 0.9,
    },
    "validation": {"n_held_out": 2, "max_train_frames": 20000},
    "representations": {"models": [MODEL]},
}


def snakemake(
    workdir: Path, *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """snakemake in its own process group; on timeout interrupted (SLURM jobs cancelled)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(CONFIG))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "tiny.yaml"),
        *args,
    ]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for signum, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            try:
                out, _ = process.communicate(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            out = ""
        return subprocess.CompletedProcess(command, "timeout", out or "")
    return subprocess.CompletedProcess(command, process.returncode, out)


def _unavailable(error: SlurmUnavailableError):
    print(f"SLURM test cluster unavailable: {error}", file=sys.stderr)
    reason = f"no SLURM test cluster: {str(error).splitlines()[0]}"
    if os.environ.get("AFFECTREP_REQUIRE_SLURM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    with contextlib.ExitStack() as stack:
        try:
            # Offered, whatever the machine: 8 CPUs and 64 GB (the profile asks 4 and 16 GB
            # per training job; --jobs 2 keeps the load down) and 2 GPUs without hardware.
            cluster = stack.enter_context(slurm_cluster(cpus=8, gpus=2, memory_mb=64000))
        except SlurmUnavailableError as error:
            _unavailable(error)
        yield cluster


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm")
    env = {
        **cluster.env,
        "AFFECTREP_SLURM_PARTITION": PARTITION,
        "AFFECTREP_SLURM_ACCOUNT": ACCOUNT,
    }
    env.pop("AFFECTREP_SLURM_GPUS", None)
    start = time.monotonic()
    # The profile as it is; only: two jobs at once on this small machine, and a first
    # status check after 5 s instead of 40 s (then 20 s, 45 s, ...: a job here takes 10 s).
    process = snakemake(
        workdir,
        "--profile",
        str(PROFILES / "slurm"),
        "--jobs",
        "2",
        "--slurm-init-seconds-before-status-checks",
        "5",
        TARGET,
        env=env,
        timeout=SLURM_TIMEOUT,
    )
    elapsed = time.monotonic() - start
    print(f"\nSLURM run: {elapsed:.0f} s", file=sys.stderr)
    if process.returncode != 0:
        slurm_logs = "\n".join(
            f"==== {path.relative_to(workdir)} ====\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        )
        squeue = cluster.run("squeue", "-a", "-l").stdout
        pytest.fail(
            f"snakemake --profile profiles/slurm: {process.returncode} after {elapsed:.0f} s "
            f"(limit {SLURM_TIMEOUT} s)\n==== snakemake ====\n{process.stdout[-8000:]}\n"
            f"==== squeue ====\n{squeue}\n{slurm_logs}\n{cluster.logs()}"
        )
    return workdir, process.stdout


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("local")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "AFFECTREP_"))}
    process = snakemake(
        workdir,
        "--profile",
        str(PROFILES / "local"),
        "--cores",
        "2",
        "results/demo/manifest.tsv",
        f"results/demo/codes/{MODEL}.npy",
        f"results/demo/validation/{MODEL}.json",
        env=env,
        timeout=LOCAL_TIMEOUT,
    )
    assert process.returncode == 0, process.stdout[-5000:]
    return workdir


@pytest.mark.slurm
def test_every_job_went_through_sbatch_as_the_profile_asks(cluster, slurm_run):
    workdir, output = slurm_run
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    jobs = cluster.sacct(
        ["JobID", "JobName", "State", "ExitCode", "Partition", "Account", "AllocTRES", "Comment"]
    )
    print("\n".join(str(job) for job in jobs), file=sys.stderr)
    assert len(submitted) == 8
    assert sorted(job["JobID"] for job in jobs) == sorted(submitted.values())
    rules = {}
    for job in jobs:
        assert job["JobName"] == run_id
        assert (job["State"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
        assert (job["Partition"], job["Account"]) == (PARTITION, ACCOUNT), job
        rule = re.match(r"rule_([a-z0-9_]+?)(_wildcards_.*)?$", job["Comment"]).group(1)
        rules[rule] = rules.get(rule, 0) + 1
        # The profile: one GPU (sbatch --gpus=1) and 4 CPUs for the training rules.
        tres = dict(item.split("=") for item in job["AllocTRES"].split(","))
        assert tres.get("gres/gpu") == ("1" if rule in GPU_RULES else None), job
        assert tres["cpu"] == CPUS.get(rule, "1"), job
    assert rules == {
        "demo_corpus": 1,
        "corpus": 1,
        "features": 1,
        "train_deep": 1,
        "encode": 1,
        "validate": 1,
        "validate_baseline": 1,
        "table1": 1,
    }
    table = (workdir / TARGET).read_text()
    assert MODEL in table and "softmax-logmel40-c1" in table


@pytest.mark.slurm
def test_results_equal_a_run_without_slurm(slurm_run, local_run):
    slurm_dir, _ = slurm_run
    for name in ("manifest.tsv", "rejected.tsv"):  # audio paths: under each run's folder
        assert (slurm_dir / "results/demo" / name).read_text().replace(str(slurm_dir), "") == (
            local_run / "results/demo" / name
        ).read_text().replace(str(local_run), "")
    codes = np.load(slurm_dir / f"results/demo/codes/{MODEL}.npy")
    local = np.load(local_run / f"results/demo/codes/{MODEL}.npy")
    assert codes.shape == local.shape and codes.shape[1] == 10
    np.testing.assert_array_equal(codes, local)
    assert (slurm_dir / f"results/demo/validation/{MODEL}.json").read_text() == (
        local_run / f"results/demo/validation/{MODEL}.json"
    ).read_text()


def test_the_slurm_profile_asks_a_gpu_for_each_training_rule():
    profile = yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert {
        rule for rule, resources in profile["set-resources"].items() if "gpu" in resources
    } == GPU_RULES


def _dry_run(tmp_path: Path, profile: str, env: dict) -> str:
    process = snakemake(
        tmp_path, "--profile", str(PROFILES / profile), "-n", "-p", TARGET, env=env, timeout=120
    )
    assert process.returncode == 0, process.stdout[-3000:]
    return process.stdout


def test_the_slurm_profile_sets_partition_account_and_gpus_from_the_environment(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    env = {
        **os.environ,
        "AFFECTREP_SLURM_PARTITION": "gpu-short",
        "AFFECTREP_SLURM_ACCOUNT": "proj42",
        "AFFECTREP_SLURM_GPUS": "0",
    }
    output = _dry_run(tmp_path, "slurm", env)
    resources = [line for line in output.splitlines() if line.strip().startswith("resources:")]
    assert len(resources) == 8
    assert all(
        "slurm_partition=gpu-short" in line and "slurm_account=proj42" in line for line in resources
    )
    assert sum("gpu=0" in line and "cpus_per_task=4" in line for line in resources) == 2
    env = {k: v for k, v in env.items() if not k.startswith("AFFECTREP_SLURM")}
    resources = [
        line
        for line in _dry_run(tmp_path, "slurm", env).splitlines()
        if line.strip().startswith("resources:")
    ]
    assert sum("gpu=1" in line for line in resources) == 2
    assert all("slurm_partition=," in line for line in resources)


def test_the_local_profile_dry_runs(tmp_path):
    output = _dry_run(tmp_path, "local", dict(os.environ))
    assert "train_deep" in output and "gpu=1" in output
