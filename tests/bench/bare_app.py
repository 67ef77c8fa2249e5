"""The intake benchmark's baseline: a bare FastAPI endpoint that parses the same ticket JSON into the same
model (intake's TicketCreate) and answers 201, served by uvicorn exactly as every service is
(cityloop.common.serve). What is left between it and intake is auth, the transaction, the outbox and the
answer. ``python -m tests.bench.bare_app PORT``."""

import sys

import uvicorn
from fastapi import FastAPI, status

from cityloop.intake.models import TicketCreate

app = FastAPI()


@app.post("/api/v1/tickets", status_code=status.HTTP_201_CREATED)
async def create(body: TicketCreate) -> dict[str, str]:
    return {"id": "T-0", "category": body.category or "", "channel": body.channel.value}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
