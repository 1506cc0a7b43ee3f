"""`zoo bench` and zoo.bench: the results CSV (name, columns, appending) and the timing loop's bookkeeping.

No assertion here is about speed: only that throughputs are measured (positive) and recorded.
"""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import zoo
from zoo.bench import CSV_COLUMNS, BenchError, append_csv, benchmark, time_steps
from zoo.train.runtime import choose_channels_last, choose_precision

TINY = ("--repeats", "2", "--warmup", "1", "--min-time", "0.01", "--batch-size", "8", "--device", "cpu")


def _read(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_cli_bench_writes_named_csv_then_appends(cli, tmp_path):
    models = ["lenet5"] + [m for m in ("mlp5",) if m in zoo.list_models()]  # mlp5: 1x28x28 MNIST input
    code, out, err = cli("bench", *models, *TINY, "--out-dir", str(tmp_path))
    assert code == 0, err
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    name = files[0].name
    assert name.startswith("bench-cpu-") and name.endswith(".csv")
    assert f"-{torch.get_num_threads()}threads-" in name
    assert f"torch{torch.__version__.replace('+', '-')}" in name.lower()

    header, *rows = _read(files[0])
    assert tuple(header) == CSV_COLUMNS
    assert len(rows) == 3 * len(models)
    records = [dict(zip(header, row)) for row in rows]
    for record in records:
        spec = zoo.model_info(record["model"])
        assert int(record["params"]) == spec.params and int(record["macs"]) == spec.macs
        assert float(record["img_per_s"]) > 0 and float(record["latency_ms"]) > 0
        assert float(record["spread"]) >= 0
        assert record["torch"] == torch.__version__ and record["zoo"] == zoo.__version__
        assert record["compile"] == "False"
        # The defaults are what `zoo train` picks on this device: its precision, NHWC for conv nets.
        model = zoo.create(record["model"])
        assert record["precision"] == choose_precision(torch.device("cpu"), "auto").name
        assert record["channels_last"] == str(choose_channels_last(torch.device("cpu"), model, None))
    assert [(r["mode"], r["batch"]) for r in records[:3]] == [("latency", "1"), ("eval", "8"), ("train", "8")]
    assert "lenet5" in out and "appended" in out

    code, _, err = cli(
        "bench", "lenet5", *TINY, "--no-channels-last", "--precision", "fp32", "--out-dir", str(tmp_path)
    )
    assert code == 0, err
    header_again, *all_rows = _read(files[0])
    assert header_again == header and len(all_rows) == len(rows) + 3  # appended, header once
    assert all_rows[: len(rows)] == rows
    assert {r[CSV_COLUMNS.index("channels_last")] for r in all_rows[-3:]} == {"False"}
    assert {r[CSV_COLUMNS.index("precision")] for r in all_rows[-3:]} == {"fp32"}


def test_benchmark_counts_params_and_macs_of_a_plain_module():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))  # 30,730 params, 30,720 MACs
    result = benchmark(model, batch_size=4, repeats=1, warmup=0, min_time=0.001, modes=("eval",))
    assert (result.params, result.macs) == (30_730, 30_720)
    assert [m.mode for m in result.measurements] == ["eval"] and result.measurements[0].batch == 4


def test_time_steps_runs_warmup_calibration_and_repeats():
    calls = []
    step, sync = lambda: calls.append(1), lambda: None
    samples, per_repeat = time_steps(step, sync, repeats=3, warmup=2, min_time=1e-9)
    # min_time below one step's time: the last warm-up step sizes the repeats, each repeat is one step
    assert per_repeat == 1 and len(samples) == 3 and len(calls) == 2 + 3
    calls.clear()
    time_steps(step, sync, repeats=1, warmup=0, min_time=1e-9)
    assert len(calls) == 1 + 1  # no warm-up asked: one sizing step still runs before the timed one


def test_csv_with_other_columns_is_not_appended_to(tmp_path):
    result = benchmark(
        "lenet5", device="cpu", batch_size=2, repeats=1, warmup=0, min_time=0.001, modes=("latency",)
    )
    foreign = tmp_path / result.csv_name
    foreign.write_text("model,img_per_s\nx,1\n")
    with pytest.raises(BenchError, match="move it aside"):
        append_csv(result, tmp_path)
    assert foreign.read_text() == "model,img_per_s\nx,1\n"


def test_unknown_mode_is_refused():
    with pytest.raises(BenchError, match="unknown benchmark mode"):
        benchmark("lenet5", modes=("inference",))


@pytest.mark.parametrize(
    "args, expected",
    [
        (("bench",), "name the models to benchmark, or give --all"),
        (("bench", "lenet5", "--all"), "not both"),
        (("bench", "lenet6"), "unknown model 'lenet6'"),
        (("bench", "lenet5", "--repeats", "0"), "--repeats"),
        (("bench", "lenet5", "--device", "tpu"), "--device 'tpu'"),
    ],
)
def test_bad_bench_input_exits_2_with_one_line(cli, args, expected):
    code, out, err = cli(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err + out
