"""The Colab-like job's inside: run by the Python of a venv holding Colab's package set (`make
colab-venv`), never by the clone's. It starts kernels in that venv, as Colab would:

    python colab_job.py lesson NOTEBOOK WORKDIR   execute NOTEBOOK copied alone into the empty WORKDIR
    python colab_job.py widgets WORKDIR           build every explorer in a live kernel and move a slider

Each prints one JSON line: what the test in test_colab.py checks.
"""

import json
import shutil
import sys
from pathlib import Path


def lesson(notebook: str, workdir: str) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    work = Path(workdir)
    copy = work / Path(notebook).name
    shutil.copy(notebook, copy)
    nb = nbformat.read(copy, as_version=4)
    error = None
    try:
        NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        ).execute()
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1]
    nbformat.write(nb, copy)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return {
        "error": error,
        "text": "".join(o.get("text", "") for o in outputs if o.output_type == "stream"),
        "pictures": sum("image/png" in o.get("data", {}) for o in outputs),
        "ran": [c.execution_count for c in nb.cells if c.cell_type == "code"],
    }


# Built and driven in the kernel: each explorer, then its first control moved to another value.
EXPLORERS = {
    "gradient_explorer": "widgets.gradient_explorer(depths=(8, 14), width=2, batch_size=8)",
    "skip_scale_explorer": "widgets.skip_scale_explorer(depths=(1, 2, 4))",
    "landscape_viewer": (
        "widgets.landscape_viewer(Surface(np.linspace(-1, 1, 5), np.add.outer(np.linspace(-1, 1, 5) ** 2, "
        "np.linspace(-1, 1, 5) ** 2) + 0.1, np.zeros((5, 5)), np.linspace(-1, 1, 5), {}))"
    ),
}
SETUP = """
import numpy as np
from IPython.display import display
from resnet_edu.course import widgets
from resnet_edu.measure.landscape import Surface
"""
MOVE = """
control = box.children[0].children[0]
options = list(getattr(control, "options", ()))
if options:
    control.value = next(o for o in (options[0], options[-1]) if o != control.value)
else:
    control.value = control.min if control.value != control.min else control.max
print(type(control).__name__, control.value)
"""


def widgets(workdir: str) -> dict:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=workdir)
    try:

        def run(code: str) -> dict:
            pngs, texts, errors = [], [], []

            def seen(msg: dict) -> None:
                kind, content = msg["msg_type"], msg["content"]
                if kind in ("display_data", "execute_result") and "image/png" in content["data"]:
                    pngs.append(content["data"]["image/png"])
                elif kind == "stream":
                    texts.append(content["text"])
                elif kind == "error":
                    errors.append(f"{content['ename']}: {content['evalue']}")

            reply = client.execute_interactive(code, timeout=300, output_hook=seen)
            return {
                "pngs": pngs,
                "text": "".join(texts),
                "errors": errors,
                "status": reply["content"]["status"],
            }

        report = {
            "setup": run(
                SETUP + "\nimport ipywidgets\nprint(ipywidgets.__version__, widgets.widgets_available())"
            )
        }
        for name, build in EXPLORERS.items():
            built = run(f"box = {build}\ndisplay(box)\nprint(type(box).__name__)")
            moved = run(MOVE)
            report[name] = {
                "built": {k: v for k, v in built.items() if k != "pngs"} | {"drawn": len(built["pngs"])},
                "moved": {k: v for k, v in moved.items() if k != "pngs"} | {"drawn": len(moved["pngs"])},
                "changed": bool(built["pngs"] and moved["pngs"] and built["pngs"][-1] != moved["pngs"][-1]),
            }
        return report
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    print(json.dumps(lesson(*args) if what == "lesson" else widgets(*args)))
