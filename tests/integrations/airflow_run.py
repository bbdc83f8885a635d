"""Run by .venv-airflow's Python (tests/integrations/test_airflow_dag.py): the example DAG once under
Airflow's own `dag.test()`, then one JSON line: the run's state and the ingest task's state and XCom.

Settings come from the environment: AIRFLOW_HOME, AIRFLOW_VAR_OPTICITE_* (see the DAG's docstring).
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

DAG_FILE = Path(__file__).resolve().parents[2] / "integrations" / "airflow" / "dags" / "opticite_ingest.py"


def main() -> None:
    run = runpy.run_path(str(DAG_FILE))["dag"].test()
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "ingest"]
    summary = ti.xcom_pull(task_ids="ingest") if ti.state == "success" else None
    print("RESULT " + json.dumps({"run": str(run.state), "task": str(ti.state), "summary": summary}))


if __name__ == "__main__":
    sys.exit(main())
