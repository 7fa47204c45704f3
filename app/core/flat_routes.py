"""The application's routes in one flat list, as `include_router` made them before FastAPI 0.13x.

FastAPI 0.165 keeps each included router as a branch that is matched again on every request:
for each candidate route it sets and restores a scope key and recomputes the routers' version,
twice per request (to select, then to handle). With 16 routers and about 100 routes that was
40 % of the server's CPU for `/healthz` and about 0.25 ms of every request. Each branch here is
replaced by the routes FastAPI itself derives for it (path, dependencies, tags, responses of the
whole chain of inclusions), built as the app's own routes; the OpenAPI document is unchanged.
"""

from fastapi import FastAPI
from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
from starlette.routing import BaseRoute


def flatten_included_routers(app: FastAPI) -> None:
    """Replace each included router of `app` by its routes, in place and in order; a router
    with anything but plain API routes, or form limits of its own, stays as it is."""
    flat: list[BaseRoute] = []
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter) and _flattenable(app, route):
            flat.extend(_route_of(context) for context in route.effective_route_contexts())
        else:
            flat.append(route)
    app.router.routes[:] = flat
    app.router._mark_routes_changed()


def _flattenable(app: FastAPI, branch: _IncludedRouter) -> bool:
    if branch.effective_low_priority_routes():
        return False
    if branch.include_context.form_limits != app.router.form_limits:
        return False
    return all(
        context.starlette_route is None and type(context.original_route) is APIRoute
        for context in branch.effective_route_contexts()
    )


def _route_of(context: _EffectiveRouteContext) -> APIRoute:
    assert context.endpoint is not None
    return APIRoute(
        context.path,
        endpoint=context.endpoint,
        response_model=context.response_model,
        status_code=context.status_code,
        tags=list(context.tags),
        dependencies=list(context.dependencies),
        summary=context.summary,
        description=context.description,
        response_description=context.response_description,
        responses=dict(context.responses),
        deprecated=context.deprecated,
        methods=set(context.methods),
        operation_id=context.operation_id,
        response_model_include=context.response_model_include,
        response_model_exclude=context.response_model_exclude,
        response_model_by_alias=context.response_model_by_alias,
        response_model_exclude_unset=context.response_model_exclude_unset,
        response_model_exclude_defaults=context.response_model_exclude_defaults,
        response_model_exclude_none=context.response_model_exclude_none,
        include_in_schema=context.include_in_schema,
        response_class=context.response_class,
        name=context.name,
        dependency_overrides_provider=context.dependency_overrides_provider,
        callbacks=context.callbacks,
        openapi_extra=context.openapi_extra,
        generate_unique_id_function=context.generate_unique_id_function,
        strict_content_type=context.strict_content_type,
        max_body_size=context.max_body_size,
    )
