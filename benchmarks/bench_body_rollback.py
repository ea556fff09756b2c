"""What the undo copy of a fine-tuned body costs a ``partial_fit`` call.

``FineTuneClassifier.partial_fit`` (and ``SbertLearner``'s) copies the body's weights and
AdamW's moments before training, so that a failure or Ctrl-C puts them back. This times
five calls on batches of 64 emotion texts after a first call, with the copy (``new``) or
with the rollback of before, which covered only the checks of the input (``old``), each
in its own process; run the two modes alternately:

    for m in old new old new old new; do
        flock /tmp/embkit-bench.lock python -m benchmarks.bench_body_rollback $m
    done

Prints the median seconds per call and the peak resident memory.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import sys
import time
from typing import Any


def main(argv: list[str] | None = None) -> dict[str, Any]:
    mode = (argv if argv is not None else sys.argv[1:] or ["new"])[0]
    if mode not in ("old", "new"):
        raise SystemExit("mode must be old or new")
    import embkit._training.body as body
    from benchmarks._common import read_split
    from embkit import FineTuneClassifier
    from embkit._training.rollback import unchanged_on_error

    if mode == "old":  # shallow: attributes only, no copy of the weights

        @contextlib.contextmanager
        def shallow(obj: Any, *, deep: bool = False) -> Any:
            with unchanged_on_error(obj):
                yield

        body.unchanged_on_error = shallow
    texts, labels = read_split("emotion", "train")
    est = FineTuneClassifier(
        batch_size=32, max_length=64, random_state=0, device="cpu", show_progress_bar=False
    )
    est.partial_fit(texts[:64], labels[:64], classes=sorted(set(labels)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for i in range(1, 6):
        start = time.perf_counter()
        est.partial_fit(texts[64 * i : 64 * (i + 1)], labels[64 * i : 64 * (i + 1)])
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "mode": mode,
        "median_s": statistics.median(times),
        "peak_mb": peak / 1024,
        "peak_growth_mb": (peak - before) / 1024,
    }
    print(
        f"{mode}: median {result['median_s']:.3f} s a call, peak RSS {result['peak_mb']:.0f} MB "
        f"(+{result['peak_growth_mb']:.0f} MB during the calls)"
    )
    return result


if __name__ == "__main__":
    main()
