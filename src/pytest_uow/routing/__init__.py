"""Every engine joins the test: the application's engines that connect to the configured database
reach the worker namespace, and under ``rollback`` the test's own transaction, without being
named anywhere.

``target.py`` says which connections are the configured database's and where a routed one goes;
``joined.py`` lets application engines share the test's connection through savepoints;
``router.py`` watches every engine and hands each connection its route.
"""

from pytest_uow.routing.router import (
    EngineRouter,
    WorkerRoute,
    adopt,
    is_routed,
    lending,
    route_connection,
)

__all__ = [
    "EngineRouter",
    "WorkerRoute",
    "adopt",
    "is_routed",
    "lending",
    "route_connection",
]
