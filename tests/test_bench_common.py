"""The environment record every published benchmark figure carries."""

from __future__ import annotations

import time

from benchmarks._common import cpu_model, environment


def test_cpu_model_names_the_cpu_and_its_vector_extensions(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512f amx_int8\n"
    )
    assert cpu_model(str(info)) == "Some CPU (avx2, avx512f, amx_int8)"
    info.write_text("model name\t: Old CPU\nflags\t\t: fpu sse\n")
    assert cpu_model(str(info)) == "Old CPU (no AVX2)"
    assert cpu_model(str(tmp_path / "missing")) == "unknown"


def test_environment_records_the_cpu_and_torch_kernels():
    env = environment()
    assert env["cpu"] == cpu_model()
    assert env["torch_cpu_capability"] == __import__("torch").backends.cpu.get_cpu_capability()
    assert env["cpu_count"] >= 1


def test_environment_records_the_host_and_the_time():
    env = environment()
    assert env["host"] == __import__("platform").node()
    recorded = time.mktime(time.strptime(env["recorded_utc"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(recorded - time.mktime(time.gmtime())) < 60
