"""Apache Airflow 3 operator and trigger that ingest a folder (and an S3-compatible bucket) into opticite."""

from opticite_airflow.operators import OpticiteIngestOperator
from opticite_airflow.triggers import OpticiteDocumentsTrigger

__all__ = ["OpticiteDocumentsTrigger", "OpticiteIngestOperator"]
