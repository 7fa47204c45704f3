"""`pickup notifications tick` and `pickup notifications worker`: the whole clockwork, here.

They live with the composition (they start every package's passes) and are registered under
`pickup notifications` by `app.cli`, where the README and the deployment call them.
"""

import time
from typing import Annotated

import typer
from rich.console import Console

from app.core.settings import get_settings

console = Console()


def tick() -> None:
    """Run every pass of the clockwork's schedule once, here (the day's tick, events ->
    messages, sweep, reconcile, nudges). Sends run here too with the embedded broker."""
    from app.clockwork import ThreadedCutoffs
    from app.clockwork.runner import jobs

    cutoffs = ThreadedCutoffs()
    for job in jobs(launcher=cutoffs):
        console.print(f"{job.name}: {job.run()}")
    cutoffs.wait()


def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes")] = 2,
    beat: Annotated[
        bool, typer.Option(help="Also run the periodic passes (one beat per site)")
    ] = True,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "info",
) -> None:
    """Run the notifications worker.

    With a real broker (CELERY_BROKER_URL=redis://...) this is a Celery worker on the
    `notifications` queue (with `--beat`, the periodic passes too). With the embedded broker
    (memory://) it is an in-process loop that runs the periodic passes itself.
    """
    from app.worker import celery_app

    if not get_settings().celery_broker_url.startswith("memory://"):
        argv = ["worker", "-Q", "notifications", "-c", str(concurrency), "-l", loglevel]
        celery_app.worker_main([*argv, *(["-B"] if beat else [])])
        return
    from app.clockwork.runner import ClockworkRunner, jobs

    console.print("[bold]Clockwork loop[/bold] (embedded broker; Ctrl-C to stop)")
    runner = ClockworkRunner(jobs()).start()
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        runner.stop()
        console.print("stopped")
