import json

from resnet_edu.training import records
from resnet_edu.training.config import TrainConfig
from resnet_edu.training.records import History


def test_results_round_trip_with_full_run_label(tmp_path):
    path = tmp_path / "results" / "01_degradation.json"
    assert records.load_results(path) is None  # no full run yet: lessons plot only their quick run
    rows = [{"model": "plain-20", "epoch": 1, "train_loss": 2.0}]
    meta = records.run_meta("cpu", setting="paper", data="CIFAR-10 from /data/sets/x.tar.gz", seeds=[7])
    records.save_results(rows, path, config=TrainConfig(epochs=3, seed=7), meta=meta)
    saved = json.loads(path.read_text())
    assert saved["config"]["epochs"] == 3 and saved["meta"]["seeds"] == [7]
    assert saved["meta"]["torch"] and saved["meta"]["date"] and saved["meta"]["setting"] == "paper"
    loaded = records.load_results(path)
    assert loaded["records"] == rows
    cpu = saved["meta"]["device_name"]
    assert loaded["label"] == f"stored paper run ({cpu}, CIFAR-10 from x.tar.gz, {saved['meta']['date']})"
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left behind


def test_fake_full_results_file_is_found(tmp_path):
    meta = {"device_name": "GPU X", "date": "2026-01-02", "setting": "paper"}
    fake = {"records": [{"model": "resnet-56", "epoch": 1}], "config": {}, "meta": meta}
    (tmp_path / "03_placements.json").write_text(json.dumps(fake))
    assert (
        records.load_results(tmp_path / "03_placements.json")["label"]
        == "stored paper run (GPU X, 2026-01-02)"
    )


def test_load_compare_results_reads_history_files_and_skips_others(tmp_path):
    assert records.load_histories(tmp_path / "missing") == []
    rec = dict(
        epoch=1,
        train_loss=1.0,
        train_acc=0.5,
        test_loss=1.1,
        test_acc=0.6,
        lr=0.1,
        time=2.0,
        images_per_s=100.0,
    )
    History([rec], {"epochs": 1}, {"model": "resnet18"}).save(tmp_path / "resnet18.json")
    (tmp_path / "notes.json").write_text('{"something": "else"}')
    loaded = records.load_histories(tmp_path)
    assert len(loaded) == 1 and loaded[0].meta["model"] == "resnet18" and loaded[0].best("test_acc") == 0.6


def test_origin_names_the_copy_not_its_folders():
    meta = {
        "device_name": "CPU",
        "precision": "fp32",
        "data": "CIFAR-10 from /a/b/c.tar.gz",
        "date": "2026-01-01",
    }
    assert records.origin(meta) == "CPU, fp32, CIFAR-10 from c.tar.gz, 2026-01-01"
    assert records.origin(meta, seeds=[1, 0]) == "CPU, fp32, CIFAR-10 from c.tar.gz, 2026-01-01, seeds [0, 1]"
    assert records.origin({}) == "origin unknown"


def test_history_rows_tag_every_epoch_with_model_seed_and_params():
    h = History([{"epoch": 1, "v": 1.0}, {"epoch": 2, "v": 0.5}], {}, {"model": "m", "seed": 4, "params": 10})
    assert records.history_rows([h]) == [
        {"model": "m", "seed": 4, "params": 10, "epoch": 1, "v": 1.0},
        {"model": "m", "seed": 4, "params": 10, "epoch": 2, "v": 0.5},
    ]


def test_history_time_to_and_best():
    recs = [
        dict(epoch=e, time=10.0 * e, test_acc=a, test_loss=1 - a) for e, a in ((1, 0.5), (2, 0.92), (3, 0.9))
    ]
    h = History(recs)
    assert h.time_to(0.9) == 20.0 and h.time_to(0.95) is None
    assert h.best("test_acc") == 0.92 and h.best("test_loss") == 1 - 0.92


def test_history_helpers():
    rows = [(1, 0.5, 2.0, 10.0), (2, None, None, 20.0), (3, 0.92, 0.3, 30.0), (4, 0.91, 0.4, 40.0)]
    recs = [{"epoch": e, "test_acc": acc, "test_loss": loss, "time": t} for e, acc, loss, t in rows]
    h = History(recs)
    assert h.best("test_acc") == 0.92 and h.best("test_loss") == 0.3
    assert h.time_to(0.9) == 30.0 and h.time_to(0.5) == 10.0 and h.time_to(0.95) is None
