"""Run by .venv-airflow's Python (tests/integrations/test_airflow_trigger.py): OpticiteDocumentsTrigger
against the server at argv[1], once per JSON list of document ids in argv[2:], polling every 0.05 s;
prints one `EVENT {...}` line per run."""

from __future__ import annotations

import asyncio
import json
import sys

from opticite_airflow.triggers import OpticiteDocumentsTrigger


async def first_event(url: str, ids: list[str]) -> dict[str, object]:
    async for event in OpticiteDocumentsTrigger(url, ids, poll_interval_s=0.05, carry={"n": len(ids)}).run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


if __name__ == "__main__":
    for group in sys.argv[2:]:
        print("EVENT " + json.dumps(asyncio.run(first_event(sys.argv[1], json.loads(group)))), flush=True)
