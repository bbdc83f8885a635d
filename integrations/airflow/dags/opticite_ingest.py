"""Example DAG: every 15 minutes, ingest the inbox folder's (and a bucket's) new files into opticite.

Settings are Airflow Variables (or AIRFLOW_VAR_<NAME> environment variables):
  opticite_url      the server, e.g. http://opticite:8000 (default http://127.0.0.1:8000)
  opticite_api_key  a key with access to the kb (optional when the server has no keys)
  opticite_inbox    the folder to read (default /srv/inbox)
  opticite_kb       the knowledge base (default "default")
  opticite_engine   the OCR engine (default: the server's)
  opticite_s3_bucket, opticite_s3_prefix, opticite_s3_endpoint_url   a bucket to read too (optional)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from opticite_airflow import OpticiteIngestOperator


def var(name: str, default: str = "") -> str:
    """A Variable, read when the task runs (templated), not when the DAG file is parsed."""
    return f"{{{{ var.value.get('opticite_{name}', '{default}') }}}}"


with DAG(
    dag_id="opticite_ingest",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one run at a time, as `flock` does for cron
    tags=["opticite"],
) as dag:
    OpticiteIngestOperator(
        task_id="ingest",
        base_url=var("url", "http://127.0.0.1:8000"),
        api_key=var("api_key"),
        folder=var("inbox", "/srv/inbox"),
        kb=var("kb", "default"),
        engine=var("engine"),
        s3_bucket=var("s3_bucket"),
        s3_prefix=var("s3_prefix"),
        s3_endpoint_url=var("s3_endpoint_url"),
        poll_interval_s=10.0,
    )
