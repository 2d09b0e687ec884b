"""Health and metrics: open to the load balancer and to Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from monitor.api.deps import MonitorDep

router = APIRouter()


@router.get("/api/health", tags=["health"])
async def health(monitor: MonitorDep) -> JSONResponse:
    """200 once the broker and the store are reachable, 503 otherwise."""
    report = await monitor.health()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get("/metrics", tags=["health"])
async def metrics(monitor: MonitorDep) -> Response:
    """Prometheus text format."""
    return Response(monitor.metrics.render(), media_type="text/plain; version=0.0.4")
